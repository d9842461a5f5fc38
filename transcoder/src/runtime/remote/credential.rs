//! The runner's own credential: read from its data dir, or, on first
//! start, obtained by exchanging a registration token (`Register`) and
//! kept there (mode 0600, written atomically) for every later start.

use super::channel;
use super::RunnerError;
use goflix_runner_proto::RegisterRequest;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use tonic::transport::Channel;

/// The file in the data dir that holds the credential.
pub const FILE: &str = "runner.credential";

/// Who registers: the runner's name and software version.
pub struct Registration<'a> {
    /// Shown to admins.
    pub name: &'a str,
    /// The registration token, if one was given.
    pub token: Option<&'a str>,
}

/// The credential in `data_dir`, registering first if there is none.
pub async fn load_or_register(
    data_dir: &Path,
    channel: &Channel,
    registration: Registration<'_>,
) -> Result<String, RunnerError> {
    let path = data_dir.join(FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => return Ok(text.trim().to_owned()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(RunnerError::Io(path, e)),
    }
    let token = registration.token.ok_or_else(|| {
        RunnerError::Config(format!(
            "no credential in {} and no registration token to get one: set GOFLIX_RUNNER_TOKEN_FILE",
            path.display()
        ))
    })?;
    let mut client = channel::client(channel.clone(), token)?;
    let registered = client
        .register(RegisterRequest {
            name: registration.name.to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        })
        .await
        .map_err(RunnerError::from_status)?
        .into_inner();
    save(&path, &registered.credential)?;
    tracing::info!(runner_id = %registered.runner_id, path = %path.display(), "registered; credential kept");
    Ok(registered.credential)
}

/// Writes `credential` to `path` readable by its owner only, atomically.
fn save(path: &Path, credential: &str) -> Result<(), RunnerError> {
    let io = |p: &PathBuf| {
        let p = p.clone();
        move |e| RunnerError::Io(p, e)
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io(&dir.to_path_buf()))?;
    let partial = path.with_extension("partial");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&partial)
        .map_err(io(&partial))?;
    file.write_all(credential.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io(&partial))?;
    std::fs::rename(&partial, path).map_err(io(&path.to_path_buf()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_credential_is_kept_for_its_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join(FILE);
        save(&path, "gfr_secret").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "gfr_secret");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
