//! The address field against public corpora: every address is either refused with a 4xx or
//! accepted and delivered to the relay; none gives a 5xx.

use std::collections::BTreeSet;

use iscriviti::domain::SubscriberEmail;

use crate::helpers::{spawn_app, urlencode};

/// (address, accepted, source) from tests/fixtures/addresses.tsv.
fn corpus() -> Vec<(&'static str, bool, &'static str)> {
    include_str!("../fixtures/addresses.tsv")
        .lines()
        .skip(1)
        .map(|row| {
            let cols: Vec<&str> = row.split('\t').collect();
            (cols[0], cols[1] == "accept", cols[2])
        })
        .collect()
}

#[tokio::test]
async fn every_address_of_the_corpus_is_refused_with_a_4xx_or_delivered() {
    let app = spawn_app().await;
    app.smtp.with_smtputf8();
    let corpus = corpus();
    assert!(corpus.len() >= 60, "at least 60 addresses");
    let mut expected = BTreeSet::new();
    for (address, accepted, source) in &corpus {
        let body = format!("email={}&lists=newsletter", urlencode(address));
        let status = app.post_form("/subscribe", &body).await.status();
        match accepted {
            true => {
                assert_eq!(status, 200, "{address:?} ({source}) is accepted");
                let parsed = SubscriberEmail::parse(address).unwrap();
                expected.insert(parsed.envelope().to_string());
            }
            false => assert_eq!(status, 400, "{address:?} ({source}) is refused"),
        }
    }
    app.worker.drain().await.unwrap();
    let mails = app.mails(expected.len()).await;
    let delivered: BTreeSet<String> = mails.iter().flat_map(|m| m.rcpt_to.clone()).collect();
    assert_eq!(delivered, expected);
    for mail in &mails {
        // The header names the same mailbox as the envelope.
        let parsed = mail.parsed();
        let to = parsed
            .to()
            .and_then(|a| a.first())
            .and_then(|a| a.address());
        assert_eq!(to, Some(mail.rcpt_to[0].as_str()));
    }
    let outbox = app.db(iscriviti::db::outbox::all).await;
    assert!(
        outbox.iter().all(|r| r.status.as_str() == "sent"),
        "{outbox:?}"
    );
}

/// A non-ASCII local part needs SMTPUTF8 (RFC 6531); an ASCII one at an IDN domain does not,
/// its domain going out as A-labels.
#[tokio::test]
async fn without_smtputf8_an_international_local_part_fails_permanently_and_an_idn_domain_goes_out()
{
    let app = spawn_app().await;
    for address in ["用户@例子.广告", "mario@sörensen.example.com"] {
        let body = format!("email={}&lists=newsletter", urlencode(address));
        assert_eq!(app.post_form("/subscribe", &body).await.status(), 200);
    }
    app.worker.drain().await.unwrap();
    let mails = app.mails(1).await;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].rcpt_to, ["mario@xn--srensen-90a.example.com"]);
    assert!(mails[0].data.is_ascii(), "no SMTPUTF8 needed");
    let outbox = app.db(iscriviti::db::outbox::all).await;
    let failed: Vec<_> = outbox
        .iter()
        .filter(|r| r.status.as_str() == "failed")
        .collect();
    assert_eq!(failed.len(), 1, "{outbox:?}");
    assert_eq!(failed[0].recipient, "用户@例子.广告");
    assert!(
        failed[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("SMTPUTF8"),
        "{failed:?}"
    );
}
