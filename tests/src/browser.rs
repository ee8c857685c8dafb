//! Headless Chromium driven by Playwright for Python, for the dashboard's test and
//! benchmark: the venv and Debian's `chromium` come from `.ci/playwright.sh` (or
//! `KEYWARDEN_PLAYWRIGHT_VENV` and `KEYWARDEN_CHROMIUM`), and Playwright is told to use
//! that chromium, so no browser is downloaded. Missing tools fail loudly, never skip.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;

use crate::repo_root;

/// The venv's python and the chromium binary.
pub struct Browser {
    pub python: PathBuf,
    pub chromium: PathBuf,
}

impl Browser {
    /// Finds (or, through `.ci/playwright.sh`, installs) Playwright and chromium, once per
    /// process (tests running at once would race on the script's output file); panics
    /// with the reason when that fails.
    pub fn find() -> &'static Browser {
        static FOUND: OnceLock<Browser> = OnceLock::new();
        FOUND.get_or_init(Self::locate)
    }

    fn locate() -> Browser {
        let given = (
            std::env::var_os("KEYWARDEN_PLAYWRIGHT_VENV"),
            std::env::var_os("KEYWARDEN_CHROMIUM"),
        );
        let (venv, chromium) = match given {
            (Some(venv), Some(chromium)) => (PathBuf::from(venv), PathBuf::from(chromium)),
            _ => {
                let vars = xtask::ci_exports(repo_root(), "playwright.sh");
                let var = |name: &str| {
                    vars.iter()
                        .find_map(|(n, v)| (n == name).then(|| PathBuf::from(v)))
                        .unwrap_or_else(|| {
                            panic!(".ci/playwright.sh provided no {name}; see its messages above")
                        })
                };
                (var("KEYWARDEN_PLAYWRIGHT_VENV"), var("KEYWARDEN_CHROMIUM"))
            }
        };
        let python = venv.join("bin").join("python");
        assert!(python.exists(), "no python in the Playwright venv {venv:?}");
        assert!(chromium.exists(), "no chromium at {chromium:?}");
        Browser { python, chromium }
    }

    /// Runs `tests/dashboard/<script>` with `env` (plus `KEYWARDEN_CHROMIUM`), its output
    /// passed through to the test's (stderr) and returned (stdout).
    pub fn run(&self, script: &str, env: &[(&str, String)]) -> Output {
        let path = repo_root().join("tests").join("dashboard").join(script);
        let mut cmd = Command::new(&self.python);
        cmd.arg(&path)
            .env("KEYWARDEN_CHROMIUM", &self.chromium)
            .stderr(std::process::Stdio::inherit());
        for (name, value) in env {
            cmd.env(name, value);
        }
        cmd.output()
            .unwrap_or_else(|e| panic!("running {path:?}: {e}"))
    }
}

/// `target/test-artifacts/dashboard`, created: where screenshots go.
pub fn artifacts_dir() -> PathBuf {
    let dir = repo_root()
        .join("target")
        .join("test-artifacts")
        .join("dashboard");
    std::fs::create_dir_all(&dir).expect("artifacts dir");
    dir
}
