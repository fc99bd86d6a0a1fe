//! Server side: TLS, connection limit, misbehaving raw clients, deliver_sm through a
//! session's window, bind refusal.

mod driver_support;

use std::time::Duration;

use bytes::Bytes;
use driver_support::{Ids, Raw, client, server, submit, within};
use smppgate::conn::{TlsClientConfig, TlsServerConfig};
use smppgate::esme::{ConnectError, EsmeClient, EsmeConfig};
use smppgate::smsc::ServerConfig;
use smppgate_protocol::command_status::CommandStatus;
use smppgate_protocol::pdu::{Bind, Body, DeliverSm, Pdu};
use smppgate_protocol::session::CloseReason;

#[tokio::test]
async fn tls_round_trip_with_a_self_signed_certificate() {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let dir = std::env::temp_dir().join(format!("smppgate-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cert_pem = dir.join("cert.pem");
    let key_pem = dir.join("key.pem");
    std::fs::write(&cert_pem, certified.cert.pem()).unwrap();
    std::fs::write(&key_pem, certified.key_pair.serialize_pem()).unwrap();

    let config = ServerConfig {
        tls: Some(TlsServerConfig {
            cert_pem: cert_pem.clone(),
            key_pem,
        }),
        ..ServerConfig::default()
    };
    let (server, _handler) = server(Ids::default(), config).await;
    let port = server.local_addr().port();
    let mut esme = EsmeConfig::new("esme", "secret");
    esme.tls = Some(TlsClientConfig {
        ca_pem: Some(cert_pem),
        server_name: Some("localhost".to_owned()),
        ..TlsClientConfig::default()
    });
    let (client, _inbound) = within(
        10,
        "TLS connect",
        EsmeClient::connect(&format!("127.0.0.1:{port}"), esme),
    )
    .await
    .expect("TLS bind");
    for _ in 0..20 {
        assert!(
            within(5, "submit", client.submit(submit("tls")))
                .await
                .unwrap()
                .is_ok()
        );
    }
    assert_eq!(client.unbind().await, CloseReason::Unbound);

    // A plain-TCP client against the TLS server does not bind.
    let plain = EsmeConfig {
        session: smppgate_protocol::session::SessionConfig {
            bind_timeout_ms: 500,
            ..Default::default()
        },
        ..EsmeConfig::new("esme", "secret")
    };
    assert!(
        within(
            10,
            "plain connect",
            EsmeClient::connect(&format!("127.0.0.1:{port}"), plain)
        )
        .await
        .is_err()
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn the_connection_limit_closes_extra_connections() {
    let config = ServerConfig {
        max_connections: 1,
        ..ServerConfig::default()
    };
    let (server, _handler) = server(Ids::default(), config).await;
    let (first, _inbound) = client(server.local_addr(), |_| {}).await;
    let second = within(
        10,
        "second connect",
        EsmeClient::connect(
            &server.local_addr().to_string(),
            EsmeConfig::new("esme", "secret"),
        ),
    )
    .await;
    assert!(
        matches!(
            second,
            Err(ConnectError::Closed {
                reason: CloseReason::ConnectionLost,
                ..
            })
        ),
        "{second:?}"
    );
    assert!(first.submit(submit("still fine")).await.unwrap().is_ok());
    first.unbind().await;
    // The slot is free again once the first connection is gone.
    let third = within(10, "third connect", async {
        loop {
            match EsmeClient::connect(
                &server.local_addr().to_string(),
                EsmeConfig::new("esme", "secret"),
            )
            .await
            {
                Ok(bound) => return bound,
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
    })
    .await;
    assert!(third.0.submit(submit("third")).await.unwrap().is_ok());
}

#[tokio::test]
async fn bad_pdus_get_the_spec_answer_while_another_session_works() {
    let (server, _handler) = server(Ids::default(), ServerConfig::default()).await;
    let (good, _inbound) = client(server.local_addr(), |_| {}).await;
    let mut raw = Raw::connect(server.local_addr()).await;

    // submit_sm before binding: submit_sm_resp ESME_RINVBNDSTS, same sequence_number.
    raw.send(&[Pdu::new(3, Body::SubmitSm(submit("early")))])
        .await;
    let answer = within(5, "answer", raw.recv()).await.unwrap();
    assert_eq!(
        answer.command_id(),
        smppgate_protocol::CommandId::SubmitSmResp
    );
    assert_eq!(
        (answer.sequence_number, answer.command_status),
        (3, CommandStatus::ESME_RINVBNDSTS)
    );

    raw.send(&[Pdu::new(4, Body::BindTransceiver(Bind::default()))])
        .await;
    assert_eq!(
        within(5, "bind_resp", raw.recv())
            .await
            .unwrap()
            .command_status,
        CommandStatus::ESME_ROK
    );

    // Unknown command_id 0x00000111: generic_nack ESME_RINVCMDID, session kept.
    raw.send_bytes(&[0, 0, 0, 16, 0, 0, 1, 0x11, 0, 0, 0, 0, 0, 0, 0, 7])
        .await;
    let nack = within(5, "generic_nack", raw.recv()).await.unwrap();
    assert_eq!(nack, Pdu::generic_nack(7, CommandStatus::ESME_RINVCMDID));

    // deliver_sm sent to an SMSC (wrong direction): an error answer, session kept.
    raw.send(&[Pdu::new(8, Body::DeliverSm(DeliverSm::default()))])
        .await;
    let refused = within(5, "deliver_sm answer", raw.recv()).await.unwrap();
    assert_eq!(refused.sequence_number, 8);
    assert!(!refused.command_status.is_ok());

    raw.send(&[Pdu::new(9, Body::SubmitSm(submit("fine")))])
        .await;
    let ok = within(5, "submit_sm_resp", raw.recv()).await.unwrap();
    assert_eq!(
        (ok.sequence_number, ok.command_status),
        (9, CommandStatus::ESME_ROK)
    );

    // Garbage length: generic_nack ESME_RINVCMDLEN with sequence_number 0, then close.
    raw.send_bytes(&[0xF0, 0, 0, 0x11, 1, 2, 3, 4]).await;
    let nack = within(5, "generic_nack", raw.recv()).await.unwrap();
    assert_eq!(nack, Pdu::generic_nack(0, CommandStatus::ESME_RINVCMDLEN));
    assert_eq!(within(5, "close", raw.recv()).await, None);

    // The other session never noticed.
    for _ in 0..10 {
        assert!(good.submit(submit("good")).await.unwrap().is_ok());
    }
}

#[tokio::test]
async fn deliver_sm_goes_through_the_sessions_window_and_explicit_answers_return() {
    let (bound_tx, mut bound_rx) = tokio::sync::mpsc::channel(4);
    let handler = Ids {
        bound: Some(bound_tx),
        ..Ids::default()
    };
    let (server, _handler) = server(handler, ServerConfig::default()).await;
    let (_client, mut inbound) = client(server.local_addr(), |c| c.auto_respond = false).await;
    let session = within(5, "bound", bound_rx.recv()).await.unwrap();
    assert_eq!(session.info().system_id, Bytes::from_static(b"esme"));
    assert!(server.registry().receiver(b"esme", None).is_some());

    let delivering = tokio::spawn(async move {
        let deliver = DeliverSm {
            short_message: Bytes::from_static(b"MO"),
            ..DeliverSm::default()
        };
        session.deliver(deliver).await
    });
    let request = within(5, "inbound", inbound.recv()).await.unwrap();
    assert!(request.needs_response());
    assert_eq!(
        request.pdu.command_id(),
        smppgate_protocol::CommandId::DeliverSm
    );
    request.respond(CommandStatus::ESME_RX_T_APPN, None).await;
    let response = within(5, "deliver_sm_resp", delivering)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(response.status(), CommandStatus::ESME_RX_T_APPN);
}

#[tokio::test]
async fn a_refused_bind_is_an_error_with_its_status() {
    let (server, _handler) = server(Ids::default(), ServerConfig::default()).await;
    let refused = EsmeClient::connect(
        &server.local_addr().to_string(),
        EsmeConfig::new("esme", "wrong"),
    )
    .await;
    match refused {
        Err(ConnectError::BindRefused { status, .. }) => {
            assert_eq!(status, CommandStatus::ESME_RINVPASWD);
        }
        other => panic!("{other:?}"),
    }
    let refused = EsmeClient::connect("127.0.0.1:1", EsmeConfig::new("esme", "secret")).await;
    assert!(
        matches!(refused, Err(ConnectError::Connect { .. })),
        "{refused:?}"
    );
}
