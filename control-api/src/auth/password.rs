//! Password hashing with argon2id (OWASP parameters: 19 MiB, 2 passes).
//! Each hash needs its 19 MiB at once, so hashing (and verifying) takes one
//! of a few slots sized to the cores ([`HASHING_SLOTS`]), and each slot
//! hashes in working memory it owns and reuses: the memory and CPU that
//! hostile logins can claim is bounded whatever their number (handing the
//! 19 MiB back to the allocator after each hash does not bound it: glibc
//! keeps freed blocks per thread arena). A request that finds no free slot
//! within [`SLOT_WAIT`] is answered 503 with `Retry-After`. Hashing runs on
//! the blocking pool so it never stalls an HTTP worker, and verification of
//! an unknown user runs against a dummy hash, so "no such user" and "wrong
//! password" look the same from outside, timing included. Every hash
//! counts in `goflix_password_hashes_total`.

use crate::error::ApiError;
use argon2::password_hash::{Output, ParamsString, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, Version};
use goflix_shared::metrics;
use std::sync::{Arc, LazyLock, Mutex, OnceLock};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Shortest accepted password.
pub const MIN_PASSWORD_LEN: usize = 8;
/// Longest accepted password (bounds hashing work).
pub const MAX_PASSWORD_LEN: usize = 1024;
/// Most hashes computed at once, whatever the number of cores (4 × 19 MiB).
const MAX_HASHING_SLOTS: usize = 4;
/// Longest a request waits for a hashing slot before it is answered 503.
pub const SLOT_WAIT: Duration = Duration::from_secs(3);

/// Argon2 working memory, kept by a slot from one hash to the next.
type Memory = Vec<Block>;

/// Hashing slots: a request takes one for as long as its hash runs, and
/// hashes in the slot's memory.
struct HashingSlots {
    permits: Arc<Semaphore>,
    /// The memory of the slots not in use (allocated on first use, so at
    /// most one per slot ever exists).
    idle_memory: Arc<Mutex<Vec<Memory>>>,
    wait: Duration,
}

impl HashingSlots {
    fn new(slots: usize, wait: Duration) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(slots)),
            idle_memory: Arc::default(),
            wait,
        }
    }

    /// Runs `work` with a slot's memory on the blocking pool once a slot is
    /// free; the slot is held until `work` ends, even if the caller stops
    /// waiting for it.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Memory) -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let slot: OwnedSemaphorePermit =
            tokio::time::timeout(self.wait, self.permits.clone().acquire_owned())
                .await
                .map_err(|_| ApiError::Unavailable("every password hashing slot is busy".into()))?
                .map_err(|e| ApiError::Internal(format!("hashing slots: {e}")))?;
        let idle_memory = self.idle_memory.clone();
        tokio::task::spawn_blocking(move || {
            let _slot = slot;
            let idle = || idle_memory.lock().unwrap_or_else(|e| e.into_inner());
            let mut memory = idle().pop().unwrap_or_default();
            let result = work(&mut memory);
            idle().push(memory);
            result
        })
        .await
        .map_err(|e| ApiError::Internal(format!("hashing task: {e}")))
    }
}

/// The process's hashing slots: one per core, at most [`MAX_HASHING_SLOTS`].
static HASHING_SLOTS: LazyLock<HashingSlots> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    HashingSlots::new(cores.min(MAX_HASHING_SLOTS), SLOT_WAIT)
});

/// `memory` grown to `params`' size (it keeps its largest size).
fn fit<'a>(memory: &'a mut Memory, params: &Params) -> &'a mut [Block] {
    if memory.len() < params.block_count() {
        memory.resize(params.block_count(), Block::default());
    }
    &mut memory[..params.block_count()]
}

/// The PHC string of `password` under a fresh salt and the default
/// parameters, hashed in `memory`.
fn hash_now(memory: &mut Memory, password: &str) -> Result<String, argon2::password_hash::Error> {
    metrics::PASSWORD_HASHES.counter(&[]).inc();
    let params = Params::default();
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())?;
    let mut salt_bytes = [0; 16];
    let mut output = [0; Params::DEFAULT_OUTPUT_LEN];
    Argon2::default().hash_password_into_with_memory(
        password.as_bytes(),
        salt.as_salt().decode_b64(&mut salt_bytes)?,
        &mut output,
        fit(memory, &params),
    )?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params)?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&output)?),
    };
    Ok(phc.to_string())
}

/// Whether `password` hashes to the PHC string `phc`, hashed in `memory`
/// (what `PasswordVerifier` does, without allocating 19 MiB).
fn matches_now(memory: &mut Memory, password: &str, phc: &str) -> bool {
    metrics::PASSWORD_HASHES.counter(&[]).inc();
    let mut check = || -> Result<bool, argon2::password_hash::Error> {
        let parsed = PasswordHash::new(phc)?;
        let (Some(expected), Some(salt)) = (parsed.hash, parsed.salt) else {
            return Ok(false);
        };
        let algorithm = Algorithm::try_from(parsed.algorithm)?;
        let version = parsed
            .version
            .map(Version::try_from)
            .transpose()?
            .unwrap_or_default();
        let params = Params::try_from(&parsed)?;
        let mut salt_bytes = [0; 64];
        let salt = salt.decode_b64(&mut salt_bytes)?;
        let mut output = vec![0; expected.len()];
        Argon2::new(algorithm, version, params.clone()).hash_password_into_with_memory(
            password.as_bytes(),
            salt,
            &mut output,
            fit(memory, &params),
        )?;
        // Output's equality is constant-time.
        Ok(Output::new(&output)? == expected)
    };
    check().unwrap_or(false)
}

/// A hash of a random password with the same parameters as real ones.
fn dummy_hash(memory: &mut Memory) -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let random = hex::encode(rand::random::<[u8; 16]>());
        hash_now(memory, &random).expect("hashing a random password succeeds")
    })
}

/// Checks that `password` is acceptable as a new password, without hashing it.
pub fn check_new(password: &str) -> Result<(), ApiError> {
    let length = password.chars().count();
    if length < MIN_PASSWORD_LEN {
        return Err(ApiError::bad_request(
            "weak_password",
            format!("passwords need at least {MIN_PASSWORD_LEN} characters"),
        ));
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(ApiError::bad_request(
            "invalid_password",
            format!("passwords are at most {MAX_PASSWORD_LEN} bytes"),
        ));
    }
    Ok(())
}

/// Hashes `password` after checking it with [`check_new`].
pub async fn hash(password: &str) -> Result<String, ApiError> {
    check_new(password)?;
    let password = password.to_owned();
    HASHING_SLOTS
        .run(move |memory| hash_now(memory, &password))
        .await?
        .map_err(|e| ApiError::Internal(format!("hashing: {e}")))
}

/// Whether `password` matches `stored`; with no stored hash (unknown user)
/// the same work is done against a dummy hash and the answer is `false`.
pub async fn verify(password: &str, stored: Option<String>) -> Result<bool, ApiError> {
    if password.len() > MAX_PASSWORD_LEN {
        return Ok(false);
    }
    let password = password.to_owned();
    HASHING_SLOTS
        .run(move |memory| match stored {
            Some(phc) => matches_now(memory, &password, &phc),
            None => {
                let dummy = dummy_hash(memory);
                // The same work as for a known account, and still no match.
                let _ = matches_now(memory, &password, dummy);
                false
            }
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_only_their_password() {
        let phc = hash("correct horse").await.unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify("correct horse", Some(phc.clone())).await.unwrap());
        assert!(!verify("wrong horse", Some(phc)).await.unwrap());
        assert!(!verify("correct horse", None).await.unwrap());
        assert!(hash("short").await.is_err());
    }

    #[test]
    fn hashes_are_those_of_the_argon2_crate() {
        use argon2::{PasswordHasher, PasswordVerifier};
        let mut memory = Memory::new();
        // Ours verify with the crate's verifier, the crate's (older rows) with ours.
        let ours = hash_now(&mut memory, "correct horse").unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default()
            .verify_password(b"correct horse", &parsed)
            .is_ok());
        let salt = SaltString::encode_b64(b"sixteen byte slt").unwrap();
        let theirs = Argon2::default()
            .hash_password(b"correct horse", &salt)
            .unwrap()
            .to_string();
        assert!(matches_now(&mut memory, "correct horse", &theirs));
        assert!(!matches_now(&mut memory, "wrong horse", &theirs));
        assert!(!matches_now(
            &mut memory,
            "correct horse",
            "$argon2id$garbage"
        ));
        assert_eq!(memory.len(), Params::default().block_count());
    }

    #[tokio::test]
    async fn work_past_the_slots_waits_briefly_then_is_unavailable() {
        let slots = HashingSlots::new(1, Duration::from_millis(200));
        let held = slots.permits.clone().try_acquire_owned().unwrap();
        let started = std::time::Instant::now();
        let refused = slots.run(|_| ()).await.unwrap_err();
        assert!(matches!(refused, ApiError::Unavailable(_)), "{refused}");
        assert!(started.elapsed() >= Duration::from_millis(200));
        drop(held);
        assert_eq!(slots.run(|_| 7).await.unwrap(), 7);
        // A slot stays taken while its work runs, even once nobody waits for it.
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let (finish_tx, finish_rx) = std::sync::mpsc::channel::<()>();
        let mut abandoned = Box::pin(slots.run(move |_| {
            started_tx.send(()).unwrap();
            finish_rx.recv().unwrap();
        }));
        tokio::select! {
            _ = &mut abandoned => unreachable!("the work waits for finish_tx"),
            _ = tokio::task::spawn_blocking(move || started_rx.recv()) => {}
        }
        drop(abandoned);
        assert!(slots.run(|_| ()).await.is_err());
        finish_tx.send(()).unwrap();
    }
}
