//! A real OpenSSH `sshd` (Debian's `openssh-server`, installed by `.ci/tools.sh`) on a
//! free loopback port, serving SFTP to the current user, with a throwaway host key and
//! user key made by `ssh-keygen`. Stopped (killed by its pid) when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `sshd` and its keys.
pub struct Sshd {
    pub port: u16,
    /// The user the server lets in (the one running the tests).
    pub user: String,
    /// The host's public key line (`ssh-ed25519 AAAA...`).
    pub host_key: String,
    /// The user's private key file (OpenSSH format, no passphrase).
    pub user_key: PathBuf,
    /// A directory the user may write, for uploads.
    pub remote_dir: PathBuf,
    pub dir: tempfile::TempDir,
    child: Child,
}

/// Makes an ed25519 key pair at `path` (`path.pub` holds the public half).
pub fn ssh_keygen(path: &Path) -> String {
    let out = Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "keywarden-test",
            "-f",
        ])
        .arg(path)
        .output()
        .expect("ssh-keygen runs (Debian package openssh-client)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(path.with_extension("pub"))
        .expect("public key")
        .trim()
        .to_owned()
}

impl Sshd {
    /// Starts `sshd` in the foreground on a free port and waits until it accepts.
    pub fn start() -> Sshd {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let host_key = ssh_keygen(&d.join("host_key"));
        let user_key = d.join("user_key");
        let user_public = ssh_keygen(&user_key);
        std::fs::write(d.join("authorized_keys"), format!("{user_public}\n")).unwrap();
        let remote_dir = d.join("remote");
        std::fs::create_dir(&remote_dir).unwrap();
        let user = String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout)
            .unwrap()
            .trim()
            .to_owned();
        // Privilege separation needs its empty directory (root only; Debian's package
        // makes it at boot through systemd, which containers lack).
        let _ = std::fs::create_dir_all("/run/sshd");
        let port = crate::free_port();
        let config = d.join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {host}\nPidFile {pid}\n\
                 AuthorizedKeysFile {keys}\nPubkeyAuthentication yes\nPasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n\
                 PermitRootLogin prohibit-password\nAllowUsers {user}\n\
                 Subsystem sftp internal-sftp\nLogLevel VERBOSE\n",
                host = d.join("host_key").display(),
                pid = d.join("sshd.pid").display(),
                keys = d.join("authorized_keys").display(),
            ),
        )
        .unwrap();
        let sshd = ["/usr/sbin/sshd", "/usr/local/sbin/sshd"]
            .into_iter()
            .find(|p| Path::new(p).is_file())
            .expect("sshd is installed (Debian package openssh-server; .ci/tools.sh installs it)");
        let log = std::fs::File::create(d.join("sshd.log")).unwrap();
        let child = Command::new(sshd)
            .args(["-D", "-e", "-f"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("sshd starts");
        let mut server = Sshd {
            port,
            user,
            host_key,
            user_key,
            remote_dir,
            dir,
            child,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("sshd exited ({status}): {}", server.log());
            }
            assert!(
                Instant::now() < deadline,
                "sshd did not listen: {}",
                server.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// What sshd logged (to stderr).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
