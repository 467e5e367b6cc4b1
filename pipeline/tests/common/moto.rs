//! moto's S3-protocol server on 127.0.0.1 (installed by ci/setup.sh), for the tests that read
//! and write S3: started on an ephemeral port, killed when dropped. A test that cannot start
//! it fails; it never skips.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::child::Owned;

/// A running moto server.
pub struct Moto {
    child: Owned,
    /// Its port on 127.0.0.1.
    pub port: u16,
    log: PathBuf,
}

impl Moto {
    /// Starts a server logging to `dir/moto.log`, and waits until it listens.
    pub fn start(dir: &Path) -> Moto {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = dir.join("moto.log");
        let child = Command::new("python3")
            .args(["-m", "moto.server", "-H", "127.0.0.1"])
            .args(["-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect(
                "cannot start moto's S3 server (python3 -m moto.server); run ci/setup.sh to \
                 install moto[server]",
            );
        let mut moto = Moto {
            child: Owned(child),
            port,
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = moto.child.try_wait() {
                panic!(
                    "moto's S3 server exited with {status}; is moto[server] installed \
                     (ci/setup.sh)?\n{}",
                    moto.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "moto's S3 server did not listen on 127.0.0.1:{port} within 60 s"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        moto
    }

    /// What the server wrote to its log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Creates `bucket` with a plain HTTP PUT (moto does not check signatures).
    pub fn create_bucket(&self, bucket: &str) {
        let port = self.port;
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(
            s,
            "PUT /{bucket} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\n\
             Connection: close\r\n\r\n"
        )
        .unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).unwrap();
        assert!(
            resp.starts_with("HTTP/1.1 200") || resp.starts_with("HTTP/1.0 200"),
            "{resp}"
        );
    }
}
