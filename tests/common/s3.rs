//! A real S3-compatible server for the tests: moto in server mode (`pip install
//! "moto[server]"`, installed by .ci/run), started on a free port of 127.0.0.1 with signature
//! checks on, so a wrong key is refused as a real bucket refuses it. Outside CI a missing
//! moto_server skips the test with a note; under CI=true it is a failure.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use somiti::config::OffsiteConfig;

pub struct Moto {
    child: Child,
    pub port: u16,
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
    /// An access key the server accepts.
    pub key: String,
    pub secret: String,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Moto {
    /// Start a server, or None (with a note) when moto_server is not installed outside CI.
    pub fn start() -> Option<Moto> {
        let have = Command::new("moto_server")
            .arg("--help")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !have {
            if super::under_ci() {
                panic!(
                    "moto_server is not installed: under CI=true the S3 tests must run (pip install \"moto[server]\")"
                );
            }
            eprintln!(
                "note: moto_server not installed; S3 test skipped (pip install \"moto[server]\")"
            );
            return None;
        }
        let port = free_port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("INITIAL_NO_AUTH_ACTION_COUNT", "3")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting moto_server");
        let endpoint = format!("http://127.0.0.1:{port}");
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "moto_server did not listen on {port} within 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/moto_setup.py");
        let out = Command::new("python3")
            .args([script, &endpoint])
            .output()
            .expect("running tests/moto_setup.py");
        assert!(
            out.status.success(),
            "moto_setup.py failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("setup JSON");
        let m = Moto {
            child,
            port,
            endpoint,
            key: v["key"].as_str().expect("key").to_string(),
            secret: v["secret"].as_str().expect("secret").to_string(),
        };
        Some(m)
    }

    /// Make a bucket (with the good key, through python's boto3 that moto brings).
    pub fn create_bucket(&self, name: &str) {
        let code = format!(
            "import boto3; boto3.client('s3', endpoint_url='{}', region_name='us-east-1', \
             aws_access_key_id='{}', aws_secret_access_key='{}').create_bucket(Bucket='{}')",
            self.endpoint, self.key, self.secret, name
        );
        let out = Command::new("python3")
            .args(["-c", &code])
            .output()
            .expect("python3");
        assert!(
            out.status.success(),
            "creating bucket {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The objects of a bucket under a prefix: (key, size, sha256 of the content), read with
    /// boto3 (a second client, not the program's own).
    pub fn objects(&self, bucket: &str, prefix: &str) -> Vec<(String, u64, String)> {
        let code = format!(
            "import boto3, hashlib, json\n\
             s3 = boto3.client('s3', endpoint_url='{}', region_name='us-east-1', aws_access_key_id='{}', aws_secret_access_key='{}')\n\
             out = []\n\
             for o in s3.list_objects_v2(Bucket='{}', Prefix='{}').get('Contents', []):\n\
             \x20   body = s3.get_object(Bucket='{}', Key=o['Key'])['Body'].read()\n\
             \x20   out.append([o['Key'], len(body), hashlib.sha256(body).hexdigest()])\n\
             print(json.dumps(out))\n",
            self.endpoint, self.key, self.secret, bucket, prefix, bucket
        );
        let out = Command::new("python3")
            .args(["-c", &code])
            .output()
            .expect("python3");
        assert!(
            out.status.success(),
            "listing bucket {bucket}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Vec<(String, u64, String)> = serde_json::from_slice(&out.stdout).expect("JSON");
        v
    }

    /// An `[[offsite]]` block for this server (credentials come from the environment the
    /// test sets: see [`Moto::env`]).
    pub fn offsite_toml(&self, name: &str, bucket: &str, prefix: &str) -> String {
        format!(
            "[[offsite]]\nname = \"{name}\"\nurl = \"s3://{bucket}/{prefix}\"\nendpoint = \"{}\"\nregion = \"us-east-1\"\nallow_http = true\n",
            self.endpoint
        )
    }

    /// An S3 target on this server: `s3://{bucket_and_prefix}` (say "somiti-backups/sonali"),
    /// with the keys in the file `creds` (see [`creds_file`]).
    pub fn target(&self, name: &str, bucket_and_prefix: &str, creds: &Path) -> OffsiteConfig {
        s3_target(name, bucket_and_prefix, &self.endpoint, creds)
    }

    /// The server's good keys in a credentials file `creds` in `dir`.
    pub fn creds_file(&self, dir: &Path) -> PathBuf {
        creds_file(dir, &self.key, &self.secret)
    }

    /// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY for a child process.
    pub fn env(&self) -> [(&'static str, String); 2] {
        [
            ("AWS_ACCESS_KEY_ID", self.key.clone()),
            ("AWS_SECRET_ACCESS_KEY", self.secret.clone()),
        ]
    }
}

/// An S3 target at `endpoint` (plain http, region us-east-1), keys from `creds`.
pub fn s3_target(
    name: &str,
    bucket_and_prefix: &str,
    endpoint: &str,
    creds: &Path,
) -> OffsiteConfig {
    OffsiteConfig {
        name: name.into(),
        url: format!("s3://{bucket_and_prefix}"),
        endpoint: endpoint.into(),
        region: "us-east-1".into(),
        allow_http: true,
        credentials_file: creds.display().to_string(),
        ..Default::default()
    }
}

/// A credentials file `creds` in `dir` (mode 0600, the AWS format) with these keys.
pub fn creds_file(dir: &Path, key: &str, secret: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join("creds");
    std::fs::write(
        &p,
        format!("[default]\naws_access_key_id = {key}\naws_secret_access_key = {secret}\n"),
    )
    .unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    p
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
