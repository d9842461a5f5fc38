//! The backends chosen by `GOFLIX_DATABASE_URL`, `GOFLIX_STORAGE`,
//! `GOFLIX_QUEUE` and `GOFLIX_CACHE`, parsed once when the configuration is
//! read: one enum per concern with one variant per backend, so the code
//! that opens a backend matches on the variant and never looks at the URL
//! again. A new backend is a variant here and an arm where it is opened.

use super::redact::{redact_url, ServiceUrl};
use crate::broker::AmqpUrl;
use crate::store::S3Options;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The control plane's database (`GOFLIX_DATABASE_URL`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// A SQLite file (`sqlite://path?mode=rwc`) or in-memory database (`sqlite::memory:`).
    Sqlite(String),
    /// A PostgreSQL server: `postgres://user:password@host:5432/db` (or `postgresql://…`).
    Postgres(ServiceUrl),
}

impl Database {
    /// The SQLite file `goflix.db` in `data_dir`, created when missing.
    pub fn sqlite_in(data_dir: &Path) -> Self {
        Self::Sqlite(format!(
            "sqlite://{}?mode=rwc",
            data_dir.join("goflix.db").display()
        ))
    }

    /// The URL to connect with, password included.
    pub fn connection_url(&self) -> &str {
        match self {
            Self::Sqlite(url) => url,
            Self::Postgres(url) => url,
        }
    }
}

impl FromStr for Database {
    type Err = String;

    fn from_str(url: &str) -> Result<Self, String> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite(url.to_owned()))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres(url.to_owned().into()))
        } else {
            Err(format!(
                "{:?} is neither sqlite://… nor postgres://…",
                redact_url(url)
            ))
        }
    }
}

/// Object storage (`GOFLIX_STORAGE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Storage {
    /// A local folder: `file:///path`.
    Folder(PathBuf),
    /// An S3 bucket: `s3://bucket?endpoint=…&region=…&path_style=true&prefix=…`.
    S3(S3Options),
}

impl Storage {
    /// The folder `objects` in `data_dir`.
    pub fn folder_in(data_dir: &Path) -> Self {
        Self::Folder(data_dir.join("objects"))
    }
}

impl FromStr for Storage {
    type Err = String;

    fn from_str(url: &str) -> Result<Self, String> {
        match url.strip_prefix("file://") {
            Some("") => Err("file:// needs a folder, as in file:///srv/goflix/objects".into()),
            Some(path) => Ok(Self::Folder(PathBuf::from(path))),
            None if url.starts_with("s3://") => S3Options::from_url(url)
                .map(Self::S3)
                .map_err(|e| e.to_string()),
            None => Err(format!(
                "{:?} is neither file:///path nor s3://bucket?…",
                redact_url(url)
            )),
        }
    }
}

/// The job queue, event bus and command channel (`GOFLIX_QUEUE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Queue {
    /// The database's `jobs` table and in-process buses (`database`; `goflix serve` only).
    Database,
    /// RabbitMQ (`amqp://…` or `amqps://…`).
    Amqp(AmqpUrl),
}

impl FromStr for Queue {
    type Err = String;

    fn from_str(url: &str) -> Result<Self, String> {
        if url == "database" {
            Ok(Self::Database)
        } else {
            url.parse().map(Self::Amqp)
        }
    }
}

/// The origin's manifest cache (`GOFLIX_CACHE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cache {
    /// In-process only (`memory`).
    Memory,
    /// The in-process tier in front of Redis (`redis://…` or `rediss://…`).
    Redis(ServiceUrl),
}

impl FromStr for Cache {
    type Err = String;

    fn from_str(url: &str) -> Result<Self, String> {
        if url == "memory" {
            Ok(Self::Memory)
        } else if url.starts_with("redis://") || url.starts_with("rediss://") {
            Ok(Self::Redis(url.to_owned().into()))
        } else {
            Err(format!(
                "{:?}: expected memory or redis://host:port",
                redact_url(url)
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_url_picks_its_backend() {
        assert!(matches!("sqlite::memory:".parse(), Ok(Database::Sqlite(_))));
        assert!(matches!(
            "postgresql://u:p@db/goflix".parse(),
            Ok(Database::Postgres(_))
        ));
        assert_eq!(
            "file:///srv/objects".parse(),
            Ok(Storage::Folder("/srv/objects".into()))
        );
        assert!(matches!("s3://bucket".parse(), Ok(Storage::S3(_))));
        assert_eq!("database".parse(), Ok(Queue::Database));
        assert!(matches!(
            "amqps://u:p@rabbit/%2f".parse(),
            Ok(Queue::Amqp(_))
        ));
        assert_eq!("memory".parse(), Ok(Cache::Memory));
        assert!(matches!("rediss://redis:6380".parse(), Ok(Cache::Redis(_))));
    }

    #[test]
    fn other_urls_are_refused_without_their_password() {
        let refused = [
            "mysql://u:pw-1@db/goflix".parse::<Database>().unwrap_err(),
            "ftp://u:pw-1@host/objects".parse::<Storage>().unwrap_err(),
            "file://".parse::<Storage>().unwrap_err(),
            "s3://bucket?colour=blue".parse::<Storage>().unwrap_err(),
            "kafka://u:pw-1@broker".parse::<Queue>().unwrap_err(),
            "memcached://u:pw-1@host".parse::<Cache>().unwrap_err(),
            "bogus://user:pw-1@host".parse::<Cache>().unwrap_err(),
        ];
        for message in refused {
            assert!(!message.contains("pw-1"), "{message}");
        }
    }
}
