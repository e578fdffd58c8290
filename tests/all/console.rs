//! The web console in a real headless Chromium: signing in with a tenant's key, listing and
//! filtering that tenant's invocations (and never another's), an invocation's page with its
//! journal as a timeline, cancelling from there, and the list updating by itself.

use std::time::Duration;

use reprise_tests::browser::Browser;
use reprise_tests::host::Host;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(20);

/// The ids of the invocations the list shows.
const LISTED: &str =
    "[...document.querySelectorAll('#invocations tbody tr')].map(r => r.dataset.id)";

fn ids(value: &Value) -> Vec<String> {
    let mut ids: Vec<String> = value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

fn sorted(ids: &[&str]) -> Vec<String> {
    let mut ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    ids.sort();
    ids
}

/// With `REPRISE_CONSOLE_SCREENSHOT=PREFIX` set, saves the page as `PREFIX-NAME.png` (how the
/// README's pictures are made).
async fn screenshot(browser: &Browser, name: &str) {
    if let Ok(prefix) = std::env::var("REPRISE_CONSOLE_SCREENSHOT") {
        browser
            .screenshot(&format!("{prefix}-{name}.png").into())
            .await;
    }
}

/// Signs in on the console's page with `key`.
async fn sign_in(browser: &Browser, host: &Host, key: &str) {
    browser.open(&format!("{}/ui", host.url)).await;
    browser
        .until(
            "the sign-in form",
            "return document.querySelector('#key')",
            WAIT,
        )
        .await;
    browser.type_into("#key", key).await;
    browser.click("#signin").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_console_lists_filters_opens_and_cancels_a_tenants_invocations_and_no_others() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = Host::start(dir.path());
    host.deploy("tg", "reprise_test_guests");
    let (other_key, _) = host.create_tenant("other");
    host.deploy_as(&other_key, "tg", "reprise_test_guests", None);

    let ada = host.invoke("tg.echo", json!({"customer": "ada"})).await;
    let bob = host.invoke("tg.echo", json!({"customer": "bob"})).await;
    let failed = host
        .invoke("tg.fail_error", json!({"message": "boom"}))
        .await;
    let sleeping = host.invoke("tg.nap", json!({"millis": 3_600_000})).await;
    for id in [&ada.id, &bob.id, &failed.id] {
        host.finished(id, WAIT).await;
    }
    host.until(&sleeping.id, "suspended", WAIT).await;
    let theirs = host.cli_ok(&[
        "--token",
        &other_key,
        "invoke",
        "tg.echo",
        "--input",
        r#"{"secret":1}"#,
    ]);
    let theirs = theirs.trim().to_string();

    let browser = Browser::start().await;
    // A wrong key is refused, saying so.
    sign_in(&browser, &host, "rpk_not_a_key").await;
    let refused = browser
        .until(
            "the refusal",
            "return document.querySelector('.signin .error').textContent",
            WAIT,
        )
        .await;
    assert!(refused.as_str().is_some_and(|t| !t.is_empty()), "{refused}");

    // The tenant's own four, not the other tenant's.
    sign_in(
        &browser,
        &host,
        &host.key_file(reprise::access::TENANT_KEY_FILE),
    )
    .await;
    let all = [
        ada.id.as_str(),
        bob.id.as_str(),
        failed.id.as_str(),
        sleeping.id.as_str(),
    ];
    let listed = browser
        .until(
            "four invocations",
            &format!("return {LISTED}.length === 4 && {LISTED}"),
            WAIT,
        )
        .await;
    assert_eq!(ids(&listed), sorted(&all));
    assert!(!ids(&listed).contains(&theirs));
    let who = browser
        .eval(
            "return document.querySelector('#who').textContent",
            json!([]),
        )
        .await;
    assert_eq!(who, "tenant default");

    // Filters: by state, then by text in the input.
    browser
        .eval("document.querySelector('#filters [name=state]').value = 'failed'; document.querySelector('#filters').requestSubmit()", json!([]))
        .await;
    let listed = browser
        .until(
            "the failed one",
            &format!("return {LISTED}.length === 1 && {LISTED}"),
            WAIT,
        )
        .await;
    assert_eq!(ids(&listed), sorted(&[&failed.id]));
    browser
        .eval(
            "document.querySelector('#filters [name=state]').value = ''",
            json!([]),
        )
        .await;
    browser.type_into("#filters [name=text]", "bob").await;
    browser
        .eval(
            "document.querySelector('#filters').requestSubmit()",
            json!([]),
        )
        .await;
    let listed = browser
        .until(
            "bob's",
            &format!(
                "return location.hash.includes('text=bob') && {LISTED}.length === 1 && {LISTED}"
            ),
            WAIT,
        )
        .await;
    assert_eq!(ids(&listed), sorted(&[&bob.id]));

    // A new invocation shows up without a reload.
    browser.open(&format!("{}/ui#/invocations", host.url)).await;
    browser
        .until("the list", &format!("return {LISTED}.length === 4"), WAIT)
        .await;
    let newer = host.invoke("tg.echo", json!({"customer": "cy"})).await;
    let listed = browser
        .until(
            "the new one",
            &format!("return {LISTED}.length === 5 && {LISTED}"),
            WAIT,
        )
        .await;
    assert!(ids(&listed).contains(&newer.id));
    screenshot(&browser, "list").await;

    // An invocation's page: its output, and its journal as a timeline.
    browser
        .click(&format!("a[href='#/invocations/{}']", ada.id))
        .await;
    let output = browser
        .until("ada's output", "return document.querySelector('#output') && document.querySelector('#output').textContent", WAIT)
        .await;
    assert!(
        output.as_str().is_some_and(|t| t.contains("\"ada\"")),
        "{output}"
    );

    // The sleeping one: what it waits for, its steps, and Cancel.
    browser
        .open(&format!("{}/ui#/invocations/{}", host.url, sleeping.id))
        .await;
    let waits = browser
        .until("its wait", "return document.querySelector('#waiting') && document.querySelector('#waiting').textContent", WAIT)
        .await;
    assert!(
        waits.as_str().is_some_and(|t| t.contains("timer due")),
        "{waits}"
    );
    let kinds = browser
        .eval("return [...document.querySelectorAll('#timeline tbody tr[data-seq] td.kind')].map(td => td.textContent)", json!([]))
        .await;
    let journal = host.journal(&sleeping.id).await;
    let expected: Vec<Value> = journal.steps.iter().map(|s| json!(s.kind)).collect();
    assert_eq!(kinds, Value::Array(expected));
    assert!(!journal.steps.is_empty());
    screenshot(&browser, "invocation").await;
    browser.click("#cancel").await;
    browser.accept_dialog().await;
    browser
        .until(
            "the cancelled badge",
            "return document.querySelector('h1 .badge').dataset.state === 'cancelled'",
            WAIT,
        )
        .await;
    assert_eq!(host.status(&sleeping.id).await.state, "cancelled");

    // The other tenant sees its own work only, and not this one's, even by its address.
    browser.click("#signout").await;
    sign_in(&browser, &host, &other_key).await;
    let listed = browser
        .until(
            "their one",
            &format!("return {LISTED}.length === 1 && {LISTED}"),
            WAIT,
        )
        .await;
    assert_eq!(ids(&listed), vec![theirs]);
    browser
        .open(&format!("{}/ui#/invocations/{}", host.url, ada.id))
        .await;
    let error = browser
        .until("the refusal", "return document.querySelector('main .error') && document.querySelector('main .error').textContent", WAIT)
        .await;
    assert!(
        error.as_str().is_some_and(|t| t.contains("no invocation")),
        "{error}"
    );
}
