//! moto's AWS server (from `.ci/moto.sh`'s venv) on a free 127.0.0.1 port, for the AWS
//! KMS tests and benchmark, plus the boto3 helper script `tests/aws/kms.py`.
//!
//! moto runs under libfaketime with a control file, so a test can move **moto's** clock
//! (e.g. to create keys whose `CreationDate` is 40 days old). Only moto's clock moves;
//! Keywarden and its plugins keep the real time.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use crate::aws::{KmsServer, STARTUP};
use crate::ci_venv;
use crate::{listening, wait_until};

/// The variable `.ci/moto.sh` exports: the venv holding moto and boto3.
pub const MOTO_ENV: &str = "KEYWARDEN_MOTO_VENV";

/// The venv: `$KEYWARDEN_MOTO_VENV`, else whatever `.ci/moto.sh` provides (it installs
/// `moto[server]` from PyPI on first use). Panics with the reason when neither works.
pub fn venv() -> PathBuf {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| ci_venv("moto.sh", MOTO_ENV)).clone()
}

/// libfaketime's preload library, when Debian's `libfaketime` is installed.
fn libfaketime() -> Option<PathBuf> {
    [
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/usr/lib",
    ]
    .iter()
    .map(|d| Path::new(d).join("faketime").join("libfaketime.so.1"))
    .find(|p| p.is_file())
}

/// A running moto server; killed on drop.
pub struct Moto {
    pub port: u16,
    child: Child,
    clock: Option<PathBuf>,
    _dir: tempfile::TempDir,
}

impl Moto {
    /// Starts moto on a free port (under libfaketime when installed, see
    /// [`Moto::shift_clock_days`]) and waits until it answers.
    pub fn start() -> Moto {
        Self::launch(true)
    }

    /// Starts moto without clock control (no libfaketime in the way), for benchmarks.
    pub fn start_plain() -> Moto {
        Self::launch(false)
    }

    fn launch(clock_control: bool) -> Moto {
        let venv = venv();
        let dir = tempfile::tempdir().expect("tempdir");
        let port = crate::free_port();
        let mut cmd = Command::new(venv.join("bin").join("moto_server"));
        cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("moto.log")).expect("log file"));
        let clock = libfaketime().filter(|_| clock_control).map(|lib| {
            let file = dir.path().join("clock");
            std::fs::write(&file, "+0\n").expect("clock file");
            cmd.env("LD_PRELOAD", lib)
                .env("FAKETIME_TIMESTAMP_FILE", &file)
                .env("FAKETIME_NO_CACHE", "1")
                .env("FAKETIME_DONT_RESET", "1");
            file
        });
        let child = cmd.spawn().expect("moto_server starts");
        let moto = Moto {
            port,
            child,
            clock,
            _dir: dir,
        };
        wait_until("moto", STARTUP, || listening(port), || moto.log());
        moto
    }

    /// Forgets every resource (`POST /moto-api/reset`), signed so moto routes it (an
    /// unsigned request would go to its S3 handler).
    pub fn reset(&self) {
        let out = self.boto3(&["reset"], None);
        assert_eq!(out["reset"], true, "{out}");
    }

    /// moto's own log (for assertion messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("moto.log")).unwrap_or_default()
    }

    /// Whether [`Moto::shift_clock_days`] works (libfaketime is installed).
    pub fn has_clock_control(&self) -> bool {
        self.clock.is_some()
    }

    /// Moves moto's clock `days` from the real time (negative: into the past); 0 resets.
    pub fn shift_clock_days(&self, days: i64) {
        let file = self
            .clock
            .as_ref()
            .expect("libfaketime is needed to move moto's clock: apt-get install libfaketime");
        std::fs::write(file, format!("{days:+}d\n")).expect("clock file");
    }
}

impl KmsServer for Moto {
    fn port(&self) -> u16 {
        self.port
    }

    fn venv(&self) -> PathBuf {
        venv()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
