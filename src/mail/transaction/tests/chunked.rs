use std::time::Duration;

use super::*;

const EHLO_CHUNKING: &str = "250-relay.test\r\n250-8BITMIME\r\n250-PIPELINING\r\n250 CHUNKING\r\n";

async fn send_chunked(
    conn: &mut Connection,
    messages: &[(&Envelope, &str)],
) -> Vec<Result<(), SendError>> {
    assert!(conn.takes_chunks());
    let send = conn.send_chunked(messages, Duration::from_secs(2));
    tokio::time::timeout(Duration::from_secs(5), send)
        .await
        .expect("no deadlock")
}

#[tokio::test]
async fn a_relay_with_chunking_gets_a_group_in_one_write_without_dot_stuffing() {
    // Strict: the relay checks nothing more arrives before it answers, so the whole group
    // came before any reply was awaited.
    let (mut conn, relay) = relay(
        EHLO_CHUNKING,
        vec![chunked(
            2,
            "250 ok\r\n250 ok\r\n250 queued\r\n250 ok\r\n250 ok\r\n250 queued\r\n",
        )],
        true,
    )
    .await;
    let (a, b) = (to("a@example.org"), to("b@example.org"));
    let (body_a, body_b) = ("Subject: a\r\n\r\n.punto\r\n", "Subject: b\r\n\r\nB");
    let sent = send_chunked(&mut conn, &[(&a, body_a), (&b, body_b)]).await;
    assert!(sent.iter().all(Result::is_ok), "{sent:?}");
    assert!(conn.is_idle(), "every reply was read");
    let seen = relay.await.unwrap();
    let expected = format!(
        "MAIL FROM:<news@example.org> BODY=8BITMIME\r\nRCPT TO:<a@example.org>\r\nBDAT {} LAST\r\n{body_a}\
         MAIL FROM:<news@example.org> BODY=8BITMIME\r\nRCPT TO:<b@example.org>\r\nBDAT {} LAST\r\n{body_b}",
        body_a.len(),
        body_b.len()
    );
    assert!(seen.ends_with(&expected), "{seen}");
}

#[tokio::test]
async fn a_refusal_in_a_group_is_that_messages_outcome_and_the_rest_go_on() {
    let (mut conn, relay) = relay(
        EHLO_CHUNKING,
        vec![
            chunked(
                3,
                "250 ok\r\n550 5.1.1 no such mailbox\r\n554 5.5.1 no valid recipients\r\n\
                 250 ok\r\n250 ok\r\n452 4.3.1 try later\r\n\
                 250 ok\r\n250 ok\r\n250 queued\r\n",
            ),
            commands(1, "221 bye\r\n"),
        ],
        false,
    )
    .await;
    let (a, b, c) = (
        to("a@example.org"),
        to("b@example.org"),
        to("c@example.org"),
    );
    let sent = send_chunked(&mut conn, &[(&a, "A\r\n"), (&b, "B\r\n"), (&c, "C\r\n")]).await;
    assert!(matches!(&sent[0], Err(SendError::Permanent(r)) if r.contains("no such mailbox")));
    assert!(matches!(&sent[1], Err(SendError::Temporary(r)) if r.contains("try later")));
    assert!(sent[2].is_ok());
    // In step: the next thing said is QUIT, and the relay hears it.
    conn.close().await;
    assert!(relay.await.unwrap().ends_with("C\r\nQUIT\r\n"));
}

#[tokio::test]
async fn a_group_cut_short_leaves_its_unanswered_messages_temporary() {
    let (mut conn, relay) = relay(
        EHLO_CHUNKING,
        vec![chunked(2, "250 ok\r\n250 ok\r\n250 queued\r\n250 ok\r\n")],
        false,
    )
    .await;
    let (a, b) = (to("a@example.org"), to("b@example.org"));
    let group = [(&a, "A\r\n"), (&b, "B\r\n")];
    let (sent, _) = tokio::join!(send_chunked(&mut conn, &group), relay);
    assert!(sent[0].is_ok(), "its reply came: {:?}", sent[0]);
    assert!(
        matches!(&sent[1], Err(SendError::Temporary(_))),
        "{:?}",
        sent[1]
    );
    assert!(!conn.is_idle(), "the connection is fit only for close");
}

#[tokio::test]
async fn a_relay_silent_past_the_patience_leaves_its_unanswered_messages_temporary() {
    let (release, held) = tokio::sync::oneshot::channel();
    let mut step = chunked(2, "250 ok\r\n250 ok\r\n250 queued\r\n");
    step.hold = Some(held);
    let (mut conn, _relay) = relay(EHLO_CHUNKING, vec![step], false).await;
    let (a, b) = (to("a@example.org"), to("b@example.org"));
    let group = [(&a, "A\r\n"), (&b, "B\r\n")];
    let sent = conn.send_chunked(&group, Duration::from_millis(200)).await;
    assert!(
        sent.iter()
            .all(|s| matches!(s, Err(SendError::Temporary(r)) if r.contains("timed out"))),
        "{sent:?}"
    );
    assert!(!conn.is_idle(), "the connection is fit only for close");
    let _ = release.send(());
}

#[tokio::test]
async fn a_relay_without_chunking_takes_no_groups() {
    let (conn, _relay) = relay(EHLO_PIPELINING, vec![], false).await;
    assert!(!conn.takes_chunks());
}
