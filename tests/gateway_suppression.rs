//! Opt-out suppression end to end, in-process (issue #15 rule 3): a carrier's MO "退订"
//! puts the sender on the account's list before the carrier's deliver_sm is answered, so
//! the next marketing submit to that number is refused with 0x400; an opt-in reply undoes
//! it; `smppgate suppress` changes the running gateway's list through its control socket,
//! and the stopped gateway's store directly.
//!
//! The policy here is a minimal one written against `Suppressions::contains` (the rules
//! engine of issue #15 calls the same lookup).

mod support;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use smppgate::clock::Clock;
use smppgate::config::{Config, PolicyConfig};
use smppgate::esme::{EsmeClient, EsmeConfig, Inbound};
use smppgate::gateway::policy::{Decision, Policy, PolicyRequest};
use smppgate::gateway::{Gateway, load_suppressions};
use smppgate::policy::suppression::{Scope, Suppressions};
use smppgate::smsc::{SessionHandle, SmscServer};
use smppgate::store::{FjallStore, ScopeKey, Store, SuppressionSource};
use smppgate_protocol::command_status::CommandStatus;
use smppgate_protocol::pdu::{DeliverSm, SubmitSm};
use smppgate_protocol::session::BindKind;
use smppgate_protocol::types::{Address, DataCoding};
use support::mo_carrier::{carrier_session, quiet_carrier};
use support::within;

/// The vendor status of the opt-out rule (issue #15 §2).
const OPT_OUT: CommandStatus = CommandStatus(0x400);
const SUBSCRIBER: &str = "8613900001111";

/// Refuses marketing to a number on the account's list.
struct OptOutOnly(Arc<Suppressions>);

impl Policy for OptOutOnly {
    fn check(&self, request: &PolicyRequest<'_>) -> Decision {
        let scope = Scope::Account(&request.account.name);
        if request.class == smppgate::config::Class::Marketing
            && self.0.contains(scope, request.destination)
        {
            Decision::Reject {
                status: OPT_OUT,
                rule: "opt_out".into(),
            }
        } else {
            Decision::Accept
        }
    }
}

struct Setup {
    gateway: Gateway,
    client: EsmeClient,
    _inbound: Inbound,
    session: SessionHandle,
    _carrier: SmscServer,
}

/// The demo set-up with the `cn-marketing` policy on its account (default keywords,
/// opt-in `订阅`/`START`, account scope), a carrier the test drives, and a bound client.
async fn start(store_path: &Path) -> Setup {
    let (carrier, server) = quiet_carrier().await;
    let mut config = Config::demo();
    config.server.listen = "127.0.0.1:0".into();
    config.store.path = store_path.to_path_buf();
    config.carriers[0].address = server.local_addr().to_string();
    config.carriers[0].binds = 1;
    let policy: PolicyConfig = toml::from_str("name = \"cn-marketing\"").unwrap();
    config.policies.push(policy);
    config.accounts[0].policy = Some("cn-marketing".into());
    let store: Arc<dyn Store> = Arc::new(FjallStore::open(store_path, false).unwrap());
    let suppressions = load_suppressions(&store).await.unwrap();
    let gateway = Gateway::start_with_suppressions(
        config,
        store,
        Arc::new(OptOutOnly(Arc::clone(&suppressions))),
        Clock::system(),
        suppressions,
    )
    .await
    .unwrap();
    let mut esme = EsmeConfig::new("demo", "demo");
    esme.bind = BindKind::Transceiver;
    let (client, inbound) = within(
        "bind upstream",
        EsmeClient::connect(&gateway.local_addr().to_string(), esme),
    )
    .await
    .expect("bind");
    let session = carrier_session(&carrier).await;
    Setup {
        gateway,
        client,
        _inbound: inbound,
        session,
        _carrier: server,
    }
}

fn submit(class: &str) -> SubmitSm {
    SubmitSm {
        service_type: Bytes::copy_from_slice(class.as_bytes()),
        source_addr: Address::international("10690000"),
        destination_addr: Address::international(SUBSCRIBER),
        short_message: Bytes::from_static(b"sale today"),
        ..SubmitSm::default()
    }
}

async fn status(client: &EsmeClient, class: &str) -> CommandStatus {
    within("submit", client.submit(submit(class)))
        .await
        .unwrap()
        .status()
}

/// The subscriber replies `text` (UCS-2, national form); returns once the carrier's
/// deliver_sm is answered.
async fn reply(session: &SessionHandle, text: &str) {
    let ucs2: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
    let mo = DeliverSm {
        source_addr: Address::international("13900001111"),
        destination_addr: Address::international("10690000"),
        data_coding: DataCoding(8),
        short_message: Bytes::from(ucs2),
        ..DeliverSm::default()
    };
    let answer = within("deliver_sm answered", session.deliver(mo)).await;
    assert!(answer.unwrap().is_ok(), "the carrier's MO was refused");
}

struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!("sg-supp-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_opt_out_reply_refuses_marketing_at_once_and_an_opt_in_reply_undoes_it() {
    let dir = TempDir::new("mo");
    let setup = start(&dir.0).await;
    let client = &setup.client;
    assert_eq!(status(client, "mkt").await, CommandStatus::ESME_ROK);

    reply(&setup.session, " 退订！").await;
    // In force by the time the carrier has its deliver_sm_resp: no wait, no poll.
    assert!(
        setup
            .gateway
            .suppressions()
            .contains(Scope::Account("demo"), SUBSCRIBER)
    );
    assert_eq!(status(client, "mkt").await, OPT_OUT);
    // The opt-out blocks marketing only.
    assert_eq!(status(client, "otp").await, CommandStatus::ESME_ROK);
    // Durable, with when and how.
    let entry = setup
        .gateway
        .store()
        .suppression(&ScopeKey::Account("demo".into()), SUBSCRIBER)
        .unwrap()
        .expect("stored");
    assert!(
        matches!(&entry.source, SuppressionSource::Mo { keyword, .. } if keyword == "退订"),
        "{:?}",
        entry.source
    );

    reply(&setup.session, "start").await;
    assert_eq!(status(client, "mkt").await, CommandStatus::ESME_ROK);
    assert!(
        setup
            .gateway
            .store()
            .suppression(&ScopeKey::Account("demo".into()), SUBSCRIBER)
            .unwrap()
            .is_none()
    );
    // An ordinary MO changes nothing.
    reply(&setup.session, "TD tomorrow?").await;
    assert_eq!(status(client, "mkt").await, CommandStatus::ESME_ROK);
    setup.gateway.stop(Duration::from_secs(2)).await;
}

/// Runs `smppgate ARGS` (off the runtime's worker: the gateway answers it meanwhile).
fn cli(args: &[&str]) -> std::process::Output {
    tokio::task::block_in_place(|| {
        Command::new(env!("CARGO_BIN_EXE_smppgate"))
            .args(args)
            .output()
            .expect("run smppgate")
    })
}

/// `smppgate suppress VERB --store STORE --account demo NUMBER`.
fn suppress_demo(verb: &str, store: &str, number: &str) -> std::process::Output {
    cli(&[
        "suppress",
        verb,
        "--store",
        store,
        "--account",
        "demo",
        number,
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_changes_a_running_gateway_at_once_and_a_stopped_one_on_disk() {
    let dir = TempDir::new("cli");
    let store = dir.0.to_str().unwrap().to_owned();
    let setup = start(&dir.0).await;
    let number = format!("+{SUBSCRIBER}");
    // The store is locked by the gateway: the CLI goes through its socket.
    let out = suppress_demo("add", &store, &number);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        setup
            .gateway
            .suppressions()
            .contains(Scope::Account("demo"), SUBSCRIBER)
    );
    assert_eq!(status(&setup.client, "mkt").await, OPT_OUT);
    let out = suppress_demo("check", &store, &number);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("suppressed for account:demo"));
    let csv = dir.0.with_extension("import.csv");
    std::fs::write(
        &csv,
        "number,scope\n+447700900123,global\nnot-a-number\n+15550100,account:demo\n",
    )
    .unwrap();
    let out = cli(&[
        "suppress",
        "import",
        "--store",
        &store,
        csv.to_str().unwrap(),
    ]);
    let _ = std::fs::remove_file(&csv);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a refused line is an error");
    assert!(stderr.contains(":3: number"), "{stderr}");
    assert!(
        stderr.contains("2 numbers imported, 1 lines refused"),
        "{stderr}"
    );
    assert!(
        setup
            .gateway
            .suppressions()
            .contains(Scope::Global, "447700900123")
    );
    let out = suppress_demo("remove", &store, &number);
    assert!(out.status.success());
    assert_eq!(status(&setup.client, "mkt").await, CommandStatus::ESME_ROK);
    setup.client.unbind().await;
    setup.gateway.stop(Duration::from_secs(2)).await;
    drop(setup.session);

    // Stopped: the CLI opens the store itself (once the last stage has let go of it) and
    // finds what the gateway committed.
    let out = within("the store released", async {
        loop {
            let out = cli(&["suppress", "list", "--store", &store]);
            if !String::from_utf8_lossy(&out.stderr).contains("in use") {
                return out;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.remove(0), "number,scope,since,source");
    let rows: Vec<(&str, &str, &str)> = lines
        .iter()
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0], f[1], f[3])
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("15550100", "account:demo", "import"),
            ("447700900123", "global", "import")
        ]
    );
}

/// The control socket answers garbage, a number that is not one and an unknown scope with
/// an error line, changes nothing for them, and stays up for the next client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_control_socket_refuses_bad_requests_and_stays_up() {
    use smppgate::policy::suppression_control::{Client, socket_path};
    use smppgate::store::{Op, Suppression};
    use std::io::{BufRead as _, BufReader, Write as _};

    let dir = TempDir::new("control");
    let setup = start(&dir.0).await;
    let path = socket_path(&dir.0);
    tokio::task::block_in_place(|| {
        let mut raw = std::os::unix::net::UnixStream::connect(&path).unwrap();
        raw.write_all(b"\x00\xffnot json\n").unwrap();
        let mut line = String::new();
        BufReader::new(&raw).read_line(&mut line).unwrap();
        assert!(line.starts_with(r#"{"error":"bad request"#), "{line}");
        // A line that never ends is cut at the limit, answered, and the connection closed.
        let mut raw = std::os::unix::net::UnixStream::connect(&path).unwrap();
        raw.write_all(&vec![b'x'; smppgate::policy::suppression_control::MAX_LINE])
            .unwrap();
        let mut line = String::new();
        BufReader::new(&raw).read_line(&mut line).unwrap();
        assert!(line.contains("request longer than"), "{line}");

        let mut client = Client::connect(&dir.0).expect("the gateway listens");
        let bad = |number: &str| {
            Op::Suppress(Suppression {
                scope: ScopeKey::Account("demo".into()),
                number: number.to_owned(),
                since: 1,
                source: SuppressionSource::Cli,
            })
        };
        let error = client.apply(&[bad("12ab")]).unwrap_err().to_string();
        assert!(error.contains("not 1 to 15 E.164 digits"), "{error}");
        let error = client
            .get(&ScopeKey::Account("demo".into()), SUBSCRIBER)
            .map(|_| ())
            .and_then(|()| client.apply(&[bad("8613900001111"), bad("1234567890123456")]))
            .unwrap_err()
            .to_string();
        assert!(error.contains("1234567890123456"), "{error}");
        // Nothing of a refused request was applied.
        assert!(setup.gateway.suppressions().is_empty());
        assert_eq!(client.apply(&[bad("8613900001111")]).unwrap(), 1);
    });
    assert!(
        setup
            .gateway
            .suppressions()
            .contains(Scope::Account("demo"), SUBSCRIBER)
    );
    setup.gateway.stop(Duration::from_secs(2)).await;
}
