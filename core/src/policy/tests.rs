//! One test (or a few) per RFC 9111 rule the policy implements.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::*;

fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn http_date(t: SystemTime) -> String {
    httpdate::fmt_http_date(t)
}

/// Repeated names become several field lines.
fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (name, value) in pairs {
        let value = value.to_string();
        let next = match out.remove(*name) {
            None => HeaderValue::One(value),
            Some(HeaderValue::One(first)) => HeaderValue::Many(vec![first, value]),
            Some(HeaderValue::Many(mut all)) => {
                all.push(value);
                HeaderValue::Many(all)
            }
        };
        out.insert(name.to_string(), next);
    }
    out
}

fn get(url: &str, h: &[(&str, &str)]) -> RequestInfo {
    RequestInfo {
        method: "GET".into(),
        url: url.into(),
        headers: headers(h),
    }
}

const URL: &str = "http://a.test/x";

fn shared() -> PolicyOptions {
    PolicyOptions::default()
}

fn private() -> PolicyOptions {
    PolicyOptions {
        shared: false,
        ..PolicyOptions::default()
    }
}

fn policy_with(status: u16, res: &[(&str, &str)], options: PolicyOptions) -> Policy {
    Policy::new(&get(URL, &[]), status, &headers(res), options, t0()).unwrap()
}

fn policy(res: &[(&str, &str)]) -> Policy {
    policy_with(200, res, shared())
}

fn is_fresh_for(policy: &Policy, request: &RequestInfo, now: SystemTime) -> bool {
    matches!(
        policy.before_request(request, now).unwrap(),
        Freshness::Fresh { .. }
    )
}

fn value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.values().next())
}

// ---- basics ---------------------------------------------------------------------------

#[test]
fn max_age_is_fresh_then_stale_and_survives_json() {
    let p = Policy::from_json(&policy(&[("cache-control", "max-age=60")]).to_json()).unwrap();
    assert!(p.is_storable());
    assert!(!p.is_stale(t0()));
    assert!(is_fresh_for(&p, &get(URL, &[]), t0()));
    assert_eq!(p.time_to_live(t0() + secs(10)), secs(50));
    let later = t0() + secs(61);
    assert!(p.is_stale(later));
    assert_eq!(p.time_to_live(later), Duration::ZERO);
    assert_eq!(p.staleness(later), secs(1));
}

#[test]
fn stale_with_etag_asks_for_revalidation_and_304_keeps_body() {
    let req = get(URL, &[]);
    let p = policy(&[
        ("cache-control", "max-age=0"),
        ("etag", "\"v1\""),
        ("last-modified", "Sun, 06 Nov 1994 08:49:37 GMT"),
    ]);
    let Freshness::Stale {
        headers: sent,
        matches,
    } = p.before_request(&req, t0()).unwrap()
    else {
        panic!("expected stale")
    };
    assert!(matches);
    assert_eq!(value(&sent, "if-none-match"), Some("\"v1\""));
    assert_eq!(
        value(&sent, "if-modified-since"),
        Some("Sun, 06 Nov 1994 08:49:37 GMT")
    );
    let after = p
        .after_response(
            &req,
            304,
            &headers(&[("etag", "\"v1\""), ("cache-control", "max-age=100")]),
            t0(),
        )
        .unwrap();
    assert!(!after.modified);
    assert!(!after.policy.is_stale(t0()));
    assert_eq!(after.policy.status(), 200);
}

#[test]
fn bad_urls_and_methods_are_rejected_not_panicked_on() {
    let req = RequestInfo {
        method: "GET".into(),
        url: "http://[::1".into(),
        headers: HeaderMap::new(),
    };
    assert!(Policy::new(&req, 200, &HeaderMap::new(), shared(), t0()).is_err());
    let req = RequestInfo {
        method: "G ET".into(),
        url: URL.into(),
        headers: HeaderMap::new(),
    };
    assert!(Policy::new(&req, 200, &HeaderMap::new(), shared(), t0()).is_err());
    assert!(Policy::new(&get(URL, &[]), 1000, &HeaderMap::new(), shared(), t0()).is_err());
}

// ---- RFC 9111 1.2.2: delta-seconds clamped before arithmetic ----------------------------

#[test]
fn a_huge_age_never_overflows() {
    let p = policy(&[
        ("cache-control", "max-age=60"),
        ("age", "18446744073709551615"),
    ]);
    let later = t0() + secs(2);
    assert!(p.is_stale(later));
    assert_eq!(p.time_to_live(later), Duration::ZERO);
    assert_eq!(p.age(later), secs(MAX_DELTA_SECONDS + 2));
    assert!(!is_fresh_for(&p, &get(URL, &[]), later));
    let _ = p.served_headers(later);
    let _ = p
        .after_response(
            &get(URL, &[]),
            304,
            &headers(&[("age", "99999999999999999999")]),
            later,
        )
        .unwrap();
}

#[test]
fn huge_lifetimes_and_windows_are_clamped() {
    let p = policy(&[("cache-control", "max-age=99999999999, s-maxage=99999999999999999999999, stale-while-revalidate=18446744073709551616, stale-if-error=18446744073709551616")]);
    assert_eq!(p.freshness_lifetime(), secs(MAX_DELTA_SECONDS));
    assert_eq!(p.response_directives().s_maxage, Some(MAX_DELTA_SECONDS));
    let far = UNIX_EPOCH + secs(u64::from(u32::MAX) * 100);
    assert!(p.is_stale(far));
    assert!(p.can_stale_while_revalidate(far) || !p.can_stale_while_revalidate(far));
    let asked = get(URL, &[("cache-control", "max-stale=99999999999999999999, min-fresh=99999999999999999999, max-age=99999999999999999999, stale-if-error=99999999999999999999")]);
    let _ = p.before_request(&asked, far).unwrap();
    let _ = p.can_stale_if_error(&asked, far);
    assert!(
        !is_fresh_for(&p, &asked, t0() + secs(1)),
        "min-fresh=2^31 is more than the lifetime left"
    );
}

#[test]
fn extreme_clocks_never_panic() {
    let p = policy(&[
        ("cache-control", "max-age=60"),
        ("date", "Sun, 06 Nov 1994 08:49:37 GMT"),
        ("last-modified", "Thu, 01 Jan 1970 00:00:00 GMT"),
    ]);
    for now in [
        UNIX_EPOCH,
        UNIX_EPOCH + secs(u64::from(u32::MAX) * 1000),
        t0(),
    ] {
        let _ = (
            p.is_stale(now),
            p.age(now),
            p.time_to_live(now),
            p.staleness(now),
        );
        let _ = p.before_request(&get(URL, &[]), now).unwrap();
    }
    let early = Policy::new(
        &get(URL, &[]),
        200,
        &headers(&[("cache-control", "max-age=60")]),
        shared(),
        UNIX_EPOCH - secs(10),
    )
    .unwrap();
    let _ = (
        early.is_stale(t0()),
        early.age(UNIX_EPOCH),
        early.response_time(),
    );
}

#[test]
fn stored_policies_with_absurd_values_are_safe() {
    let mut json = policy(&[("cache-control", "max-age=60")]).to_json();
    json["responseTime"] = serde_json::json!(i64::MIN);
    json["requestTime"] = serde_json::json!(i64::MAX);
    json["heuristicFraction"] = serde_json::json!(1e38);
    json["heuristicMin"] = serde_json::json!(i64::MAX);
    json["heuristicMax"] = serde_json::json!(i64::MIN);
    json["responseHeaders"]["age"] = serde_json::json!("18446744073709551615");
    json["responseHeaders"]["last-modified"] = serde_json::json!("Thu, 01 Jan 1970 00:00:00 GMT");
    let p = Policy::from_json(&json).unwrap();
    for now in [UNIX_EPOCH, t0()] {
        let _ = (
            p.is_stale(now),
            p.age(now),
            p.time_to_live(now),
            p.staleness(now),
            p.served_headers(now),
        );
        let _ = p.before_request(&get(URL, &[]), now).unwrap();
        let _ = p
            .after_response(&get(URL, &[]), 304, &HeaderMap::new(), now)
            .unwrap();
    }
    assert!(Policy::from_json(&serde_json::json!({ "v": 2 })).is_err());
    assert!(Policy::from_json(&serde_json::json!({ "v": 3, "method": "GET" })).is_err());
    assert!(Policy::from_json(&serde_json::json!("policy")).is_err());
}

// ---- RFC 9111 5.1 and 4.2.3: Age ---------------------------------------------------------

#[test]
fn a_list_valued_age_uses_its_first_member() {
    assert!(policy(&[("cache-control", "max-age=3600"), ("age", "7200,0")]).is_stale(t0()));
    assert!(!policy(&[("cache-control", "max-age=3600"), ("age", "0,7200")]).is_stale(t0()));
    assert_eq!(
        policy(&[("cache-control", "max-age=3600"), ("age", "30,5")]).age(t0()),
        secs(30)
    );
}

#[test]
fn age_lines_joined_into_one_value_are_as_untrusted_as_several_lines() {
    // http-cache-tests age-parse-dup-0 / age-parse-dup-old: `0, 0` and `3600, 3600` are two
    // Age lines joined (RFC 9110 5.3), so stale like two lines, whatever their values.
    for joined in ["0, 0", "3600, 3600", "0 ,0", "30, 5", "7200, 0"] {
        assert!(
            policy(&[("cache-control", "max-age=10000"), ("age", joined)]).is_stale(t0()),
            "{joined}"
        );
    }
    assert!(policy(&[
        ("cache-control", "max-age=10000"),
        ("age", "0"),
        ("age", "0")
    ])
    .is_stale(t0()));
    // Whitespace around a single value is not a join.
    assert!(!policy(&[("cache-control", "max-age=10000"), ("age", " 5 ")]).is_stale(t0()));
}

#[test]
fn an_untrustworthy_age_makes_the_response_stale() {
    for bad in ["abc", "-7200", "7200.0", "7200;foo=bar"] {
        assert!(
            policy(&[("cache-control", "max-age=3600"), ("age", bad)]).is_stale(t0()),
            "{bad}"
        );
    }
    // Age on two field lines (a singleton field repeated): not trusted either.
    assert!(policy(&[
        ("cache-control", "max-age=3600"),
        ("age", "0"),
        ("age", "7200")
    ])
    .is_stale(t0()));
}

#[test]
fn age_is_combined_with_date() {
    // apparent_age = response_time - Date: a response dated two hours ago is 7200 s old.
    let old = policy(&[
        ("cache-control", "max-age=3600"),
        ("date", &http_date(t0() - secs(7200))),
    ]);
    assert!(old.is_stale(t0()));
    assert_eq!(old.age(t0()), secs(7200));
    // A larger Age wins over the apparent age, and the other way round.
    let p = policy(&[
        ("cache-control", "max-age=3600"),
        ("date", &http_date(t0() - secs(10))),
        ("age", "100"),
    ]);
    assert_eq!(p.age(t0()), secs(100));
    let p = policy(&[
        ("cache-control", "max-age=3600"),
        ("date", &http_date(t0() - secs(100))),
        ("age", "10"),
    ]);
    assert_eq!(p.age(t0() + secs(5)), secs(105));
    // A Date in the future (fast origin clock) is no negative age.
    assert_eq!(
        policy(&[
            ("cache-control", "max-age=60"),
            ("date", &http_date(t0() + secs(600)))
        ])
        .age(t0()),
        Duration::ZERO
    );
}

#[test]
fn request_time_adds_the_response_delay_to_age() {
    let options = PolicyOptions {
        request_time: Some(t0() - secs(3)),
        ..shared()
    };
    let p = Policy::new(
        &get(URL, &[]),
        200,
        &headers(&[("cache-control", "max-age=60"), ("age", "10")]),
        options,
        t0(),
    )
    .unwrap();
    assert_eq!(p.age(t0()), secs(13));
}

// ---- RFC 9111 4.2.1 / 5.3: Expires ---------------------------------------------------------

#[test]
fn expires_in_the_three_http_date_forms() {
    // t0 + 1 hour = Tue, 14 Nov 2023 23:13:20 GMT.
    assert_eq!(
        http_date(t0() + secs(3600)),
        "Tue, 14 Nov 2023 23:13:20 GMT"
    );
    for form in [
        "Tue, 14 Nov 2023 23:13:20 GMT",
        "Tuesday, 14-Nov-23 23:13:20 GMT",
        "Tue Nov 14 23:13:20 2023",
    ] {
        let p = policy(&[("expires", form), ("date", &http_date(t0()))]);
        assert!(p.is_storable(), "{form}");
        assert_eq!(p.freshness_lifetime(), secs(3600), "{form}");
        assert!(!p.is_stale(t0() + secs(3599)), "{form}");
    }
}

#[test]
fn an_invalid_expires_means_already_expired() {
    for bad in [
        "0",
        "Tue,  14 Nov 2023 23:13:20 GMT",
        "Tue, 14 Nov 2023 23:13:20 UTC",
        "tomorrow",
    ] {
        let p = policy(&[("expires", bad)]);
        assert!(p.is_storable(), "{bad}: Expires makes it storable");
        assert!(p.is_stale(t0()), "{bad}");
    }
}

#[test]
fn expires_counts_from_date_and_age_still_applies() {
    // Date slow by 10 s, Expires 10 s ahead, Age 25: lifetime 20, age 25: stale.
    let slow = policy(&[
        ("date", &http_date(t0() - secs(10))),
        ("expires", &http_date(t0() + secs(10))),
        ("age", "25"),
    ]);
    assert!(slow.is_stale(t0()));
    // Date fast by 10 s, Expires 20 s ahead, Age 15: lifetime 10, age 15: stale.
    let fast = policy(&[
        ("date", &http_date(t0() + secs(10))),
        ("expires", &http_date(t0() + secs(20))),
        ("age", "15"),
    ]);
    assert!(fast.is_stale(t0()));
    // A far-future Expires is bounded like any lifetime.
    assert_eq!(
        policy(&[("expires", "Fri, 31 Dec 9999 23:59:59 GMT")]).freshness_lifetime(),
        secs(MAX_DELTA_SECONDS)
    );
    // max-age overrides Expires.
    assert!(!policy(&[("cache-control", "max-age=60"), ("expires", "0")]).is_stale(t0()));
}

// ---- RFC 9111 5.2: Cache-Control parsing ----------------------------------------------------

#[test]
fn directive_names_are_case_insensitive() {
    assert!(!policy(&[("cache-control", "MaX-AgE=60")]).is_stale(t0()));
    let no_cache = policy(&[("cache-control", "max-age=60, No-CaChE"), ("etag", "\"a\"")]);
    assert!(no_cache.is_storable());
    assert!(matches!(
        no_cache.before_request(&get(URL, &[]), t0()).unwrap(),
        Freshness::Stale { matches: true, .. }
    ));
    assert!(!policy(&[("cache-control", "max-age=60, NO-STORE")]).is_storable());
}

#[test]
fn spaces_around_equals_make_max_age_invalid() {
    let p = policy(&[("cache-control", "max-age = 5")]);
    assert!(p.is_storable());
    assert!(p.is_stale(t0()));
    assert!(policy(&[("cache-control", "max-age='3600'")]).is_stale(t0()));
    assert!(policy(&[("cache-control", "max-age=-1")]).is_stale(t0()));
    assert!(!policy(&[("cache-control", "max-age=\"3600\"")]).is_stale(t0()));
    assert!(
        policy(&[("cache-control", "extension=\"max-age=3600\", max-age=1")])
            .is_stale(t0() + secs(2))
    );
}

#[test]
fn s_maxage_applies_to_shared_caches_only() {
    let res = [
        ("cache-control", "max-age=3600"),
        ("cache-control", "s-maxage=1"),
    ];
    assert!(policy_with(200, &res, shared()).is_stale(t0() + secs(2)));
    assert!(!policy_with(200, &res, private()).is_stale(t0() + secs(2)));
}

#[test]
fn qualified_no_cache_omits_its_fields_instead_of_refusing_to_cache() {
    let p = policy(&[
        ("cache-control", "no-cache=\"a, b\""),
        ("cache-control", "max-age=3600"),
        ("a", "1"),
        ("b", "2"),
        ("c", "3"),
    ]);
    assert!(p.is_storable());
    assert!(!p.is_stale(t0()));
    let Freshness::Fresh { headers: served } = p.before_request(&get(URL, &[]), t0()).unwrap()
    else {
        panic!("expected fresh")
    };
    assert_eq!(value(&served, "c"), Some("3"));
    assert_eq!(value(&served, "a"), None);
    assert_eq!(value(&served, "b"), None);
    assert_eq!(
        p.response_directives().no_cache_fields,
        vec!["a".to_string(), "b".to_string()]
    );
}

#[test]
fn qualified_private_stores_the_rest_in_a_shared_cache() {
    let res = [
        ("cache-control", "private=\"x-user\", max-age=60"),
        ("x-user", "alice"),
        ("x-other", "1"),
    ];
    let p = policy_with(200, &res, shared());
    assert!(p.is_storable());
    assert!(!p.response_headers().contains_key("x-user"));
    assert!(
        !p.to_json().to_string().contains("alice"),
        "never written to disk"
    );
    assert_eq!(value(&p.served_headers(t0()), "x-other"), Some("1"));
    // A private cache keeps everything.
    assert_eq!(
        value(
            policy_with(200, &res, private()).response_headers(),
            "x-user"
        ),
        Some("alice")
    );
}

#[test]
fn unqualified_private_is_storable_only_in_a_private_cache() {
    let res = [("cache-control", "private, max-age=60")];
    assert!(!policy_with(200, &res, shared()).is_storable());
    assert!(policy_with(200, &res, private()).is_storable());
}

#[test]
fn response_pragma_no_cache_is_ignored_when_cache_control_is_present() {
    assert!(!policy(&[("cache-control", "max-age=3600"), ("pragma", "no-cache")]).is_stale(t0()));
    let legacy = policy(&[
        ("expires", &http_date(t0() + secs(3600))),
        ("pragma", "no-cache"),
    ]);
    assert!(
        legacy.is_stale(t0()),
        "without Cache-Control, Pragma: no-cache means no-cache"
    );
}

#[test]
fn must_revalidate_proxy_revalidate_and_s_maxage_forbid_serving_stale() {
    let stale_ok = get(URL, &[("cache-control", "max-stale")]);
    let later = t0() + secs(10);
    assert!(is_fresh_for(
        &policy(&[("cache-control", "max-age=1")]),
        &stale_ok,
        later
    ));
    for cc in [
        "max-age=1, must-revalidate",
        "max-age=1, proxy-revalidate",
        "max-age=1, s-maxage=1",
    ] {
        let p = policy(&[("cache-control", cc)]);
        assert!(!p.may_serve_stale(), "{cc}");
        assert!(!is_fresh_for(&p, &stale_ok, later), "{cc}");
    }
    // In a private cache proxy-revalidate and s-maxage do not apply.
    assert!(policy_with(
        200,
        &[("cache-control", "max-age=1, proxy-revalidate")],
        private()
    )
    .may_serve_stale());
    // proxy-revalidate does not shorten freshness.
    assert!(!policy(&[("cache-control", "max-age=60, proxy-revalidate")]).is_stale(t0()));
}

#[test]
fn stale_while_revalidate_and_stale_if_error_windows() {
    let p = policy(&[(
        "cache-control",
        "max-age=1, stale-while-revalidate=10, stale-if-error=60",
    )]);
    let req = get(URL, &[]);
    assert!(
        !p.can_stale_while_revalidate(t0()),
        "fresh: nothing to revalidate"
    );
    assert!(p.can_stale_while_revalidate(t0() + secs(5)));
    assert!(!p.can_stale_while_revalidate(t0() + secs(12)));
    assert!(p.can_stale_if_error(&req, t0() + secs(30)));
    assert!(!p.can_stale_if_error(&req, t0() + secs(62)));
    let plain = policy(&[("cache-control", "max-age=1")]);
    assert!(!plain.can_stale_if_error(&req, t0() + secs(5)));
    assert!(plain.can_stale_if_error(
        &get(URL, &[("cache-control", "stale-if-error=10")]),
        t0() + secs(5)
    ));
    let strict = policy(&[(
        "cache-control",
        "max-age=1, must-revalidate, stale-if-error=60",
    )]);
    assert!(!strict.can_stale_if_error(&req, t0() + secs(5)));
}

// ---- RFC 9111 3, RFC 9110 15.1: what is storable ----------------------------------------------

#[test]
fn any_final_status_with_explicit_freshness_is_storable() {
    for status in [
        200, 203, 299, 302, 400, 404, 410, 499, 500, 502, 503, 504, 599,
    ] {
        let p = policy_with(status, &[("cache-control", "max-age=3600")], shared());
        assert!(p.is_storable(), "{status}");
        assert!(!p.is_stale(t0()), "{status}");
        assert!(
            policy_with(
                status,
                &[("expires", &http_date(t0() + secs(60)))],
                shared()
            )
            .is_storable(),
            "{status}"
        );
        assert!(
            policy_with(status, &[("cache-control", "s-maxage=60")], shared()).is_storable(),
            "{status}"
        );
    }
    for status in [100, 101, 206, 304] {
        assert!(
            !policy_with(status, &[("cache-control", "max-age=3600")], shared()).is_storable(),
            "{status}"
        );
    }
}

#[test]
fn heuristic_freshness_only_for_heuristically_cacheable_statuses() {
    let res = [
        ("date", &*http_date(t0())),
        ("last-modified", &*http_date(t0() - secs(10_000))),
    ];
    for status in [200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501] {
        let p = policy_with(status, &res, shared());
        assert!(p.is_storable(), "{status}");
        assert_eq!(
            p.freshness_lifetime(),
            secs(1000),
            "{status}: 10% of the time since Last-Modified"
        );
        assert!(!p.has_explicit_freshness());
    }
    for status in [201, 202, 302, 403, 500, 502, 503, 504, 599] {
        let p = policy_with(status, &res, shared());
        assert!(!p.is_storable(), "{status}");
        assert!(p.is_stale(t0()), "{status}");
    }
    // `public` allows heuristics for any status.
    let public = policy_with(
        500,
        &[
            ("cache-control", "public"),
            ("last-modified", &http_date(t0() - secs(10_000))),
        ],
        shared(),
    );
    assert!(public.is_storable());
    assert!(!public.is_stale(t0()));
}

#[test]
fn heuristic_freshness_has_a_floor_and_a_ceiling() {
    let modified_ago = |ago: u64, options: PolicyOptions| {
        policy_with(
            200,
            &[
                ("date", &http_date(t0())),
                ("last-modified", &http_date(t0() - secs(ago))),
            ],
            options,
        )
        .freshness_lifetime()
    };
    // Defaults: 10%, at least 10 s, at most a day.
    assert_eq!(modified_ago(5, shared()), secs(10));
    assert_eq!(modified_ago(0, shared()), secs(10));
    assert_eq!(modified_ago(1000, shared()), secs(100));
    assert_eq!(modified_ago(10 * 365 * 86_400, shared()), secs(86_400));
    // Chosen bounds.
    let options = PolicyOptions {
        heuristic_fraction: 0.2,
        heuristic_min: Duration::ZERO,
        heuristic_max: secs(3600),
        ..shared()
    };
    assert_eq!(modified_ago(5, options), Duration::from_millis(1000));
    assert_eq!(modified_ago(100_000, options), secs(3600));
    // A Last-Modified after Date is no basis for a heuristic.
    let future = policy_with(
        200,
        &[
            ("date", &http_date(t0())),
            ("last-modified", &http_date(t0() + secs(60))),
        ],
        shared(),
    );
    assert_eq!(future.freshness_lifetime(), Duration::ZERO);
    // Explicit freshness is never raised to the floor.
    assert_eq!(
        policy(&[
            ("cache-control", "max-age=1"),
            ("last-modified", &http_date(t0() - secs(5)))
        ])
        .freshness_lifetime(),
        secs(1)
    );
}

#[test]
fn heuristic_bounds_are_stored_with_the_policy() {
    let options = PolicyOptions {
        heuristic_min: secs(1),
        heuristic_max: secs(2),
        ..shared()
    };
    let res = [
        ("date", &*http_date(t0())),
        ("last-modified", &*http_date(t0() - secs(1000))),
    ];
    let p = policy_with(200, &res, options);
    assert_eq!(p.freshness_lifetime(), secs(2));
    let json = p.to_json();
    assert_eq!(
        Policy::from_json(&json).unwrap().freshness_lifetime(),
        secs(2)
    );
    // A 304 keeps them.
    let updated = p
        .after_response(&get(URL, &[]), 304, &headers(&res), t0())
        .unwrap();
    assert_eq!(updated.policy.freshness_lifetime(), secs(2));
    // Written before they existed: today's defaults.
    let mut old = json;
    let object = old.as_object_mut().unwrap();
    object.remove("heuristicMin");
    object.remove("heuristicMax");
    assert_eq!(
        Policy::from_json(&old).unwrap().freshness_lifetime(),
        secs(100)
    );
}

#[test]
fn a_decimal_max_age_counts_its_whole_seconds() {
    let p = policy(&[("cache-control", "max-age=3600.5")]);
    assert_eq!(p.freshness_lifetime(), secs(3600));
    assert!(p.has_explicit_freshness());
    assert!(policy(&[("cache-control", "max-age=3600a")]).is_stale(t0()));
}

#[test]
fn must_understand() {
    assert!(!policy_with(
        599,
        &[("cache-control", "max-age=3600, must-understand")],
        shared()
    )
    .is_storable());
    let p = policy_with(
        200,
        &[("cache-control", "max-age=3600, must-understand, no-store")],
        shared(),
    );
    assert!(
        p.is_storable(),
        "no-store is the fallback for caches that do not know must-understand"
    );
}

#[test]
fn methods_other_than_get_and_head_are_not_stored() {
    for (method, storable) in [
        ("GET", true),
        ("HEAD", true),
        ("head", true),
        ("POST", false),
        ("PUT", false),
    ] {
        let req = RequestInfo {
            method: method.into(),
            url: URL.into(),
            headers: HeaderMap::new(),
        };
        let p = Policy::new(
            &req,
            200,
            &headers(&[("cache-control", "max-age=60")]),
            shared(),
            t0(),
        )
        .unwrap();
        assert_eq!(p.is_storable(), storable, "{method}");
    }
}

#[test]
fn authorization_in_a_shared_cache() {
    let req = get(URL, &[("authorization", "Bearer x")]);
    let build = |cc: &str, options| {
        Policy::new(&req, 200, &headers(&[("cache-control", cc)]), options, t0()).unwrap()
    };
    assert!(!build("max-age=60", shared()).is_storable());
    assert!(build("max-age=60", private()).is_storable());
    for allowed in [
        "max-age=60, public",
        "max-age=60, must-revalidate",
        "s-maxage=60",
    ] {
        assert!(build(allowed, shared()).is_storable(), "{allowed}");
    }
    assert!(
        !build("max-age=60", shared())
            .to_json()
            .to_string()
            .contains("Bearer"),
        "credentials are not stored"
    );
}

#[test]
fn set_cookie_is_stored_only_by_a_private_cache() {
    let res = [
        ("cache-control", "max-age=60"),
        ("set-cookie", "a=1"),
        ("set-cookie", "b=2"),
    ];
    let shared_policy = policy_with(200, &res, shared());
    assert!(shared_policy.is_storable());
    assert!(!shared_policy.response_headers().contains_key("set-cookie"));
    assert!(!shared_policy.to_json().to_string().contains("a=1"));
    let private_policy = policy_with(200, &res, private());
    assert_eq!(
        private_policy.served_headers(t0())["set-cookie"],
        HeaderValue::Many(vec!["a=1".into(), "b=2".into()])
    );
}

#[test]
fn hop_by_hop_fields_are_not_stored() {
    let p = policy(&[
        ("cache-control", "max-age=60"),
        ("connection", "x-a"),
        ("x-a", "1"),
        ("keep-alive", "timeout=5"),
        ("x-b", "2"),
    ]);
    let names: Vec<&String> = p.response_headers().keys().collect();
    assert_eq!(names, vec!["cache-control", "x-b"]);
}

// ---- RFC 9111 5.2.1: request directives --------------------------------------------------------

#[test]
fn request_directives_are_parsed_and_exposed() {
    let parsed = RequestDirectives::parse(&headers(&[(
        "cache-control",
        "No-Store, max-age=5, min-fresh=7, max-stale, only-if-cached, stale-if-error=9",
    )]));
    assert_eq!(
        parsed,
        RequestDirectives {
            no_store: true,
            no_cache: false,
            only_if_cached: true,
            max_age: Some(5),
            min_fresh: Some(7),
            max_stale: Some(None),
            stale_if_error: Some(9)
        }
    );
    assert_eq!(
        RequestDirectives::parse(&headers(&[("cache-control", "max-stale=3")])).max_stale,
        Some(Some(3))
    );
    assert!(RequestDirectives::parse(&headers(&[("pragma", "no-cache")])).no_cache);
    assert!(
        !RequestDirectives::parse(&headers(&[
            ("pragma", "no-cache"),
            ("cache-control", "max-age=5")
        ]))
        .no_cache
    );
}

#[test]
fn request_no_store_prevents_storing() {
    let req = get(URL, &[("cache-control", "no-store")]);
    assert!(!Policy::new(
        &req,
        200,
        &headers(&[("cache-control", "max-age=60")]),
        shared(),
        t0()
    )
    .unwrap()
    .is_storable());
}

#[test]
fn request_no_cache_max_age_and_min_fresh_force_revalidation() {
    let p = policy(&[("cache-control", "max-age=100")]);
    let now = t0() + secs(10);
    assert!(is_fresh_for(&p, &get(URL, &[]), now));
    assert!(!is_fresh_for(
        &p,
        &get(URL, &[("cache-control", "no-cache")]),
        now
    ));
    assert!(!is_fresh_for(&p, &get(URL, &[("pragma", "no-cache")]), now));
    assert!(!is_fresh_for(
        &p,
        &get(URL, &[("cache-control", "max-age=5")]),
        now
    ));
    assert!(is_fresh_for(
        &p,
        &get(URL, &[("cache-control", "max-age=20")]),
        now
    ));
    assert!(!is_fresh_for(
        &p,
        &get(URL, &[("cache-control", "min-fresh=95")]),
        now
    ));
    assert!(is_fresh_for(
        &p,
        &get(URL, &[("cache-control", "min-fresh=50")]),
        now
    ));
}

#[test]
fn immutable_fresh_responses_are_not_revalidated_on_reload() {
    let p = policy(&[("cache-control", "max-age=100, immutable")]);
    let now = t0() + secs(10);
    assert!(is_fresh_for(
        &p,
        &get(URL, &[("cache-control", "max-age=0")]),
        now
    ));
    assert!(
        !is_fresh_for(&p, &get(URL, &[("cache-control", "no-cache")]), now),
        "a forced reload still revalidates"
    );
    assert!(
        !is_fresh_for(
            &p,
            &get(URL, &[("cache-control", "max-age=0")]),
            t0() + secs(101)
        ),
        "once stale, as any other"
    );
}

#[test]
fn request_max_stale_accepts_stale_responses_within_its_limit() {
    let p = policy(&[("cache-control", "max-age=10")]);
    let now = t0() + secs(30);
    assert!(!is_fresh_for(&p, &get(URL, &[]), now));
    assert!(is_fresh_for(
        &p,
        &get(URL, &[("cache-control", "max-stale")]),
        now
    ));
    assert!(is_fresh_for(
        &p,
        &get(URL, &[("cache-control", "max-stale=25")]),
        now
    ));
    assert!(!is_fresh_for(
        &p,
        &get(URL, &[("cache-control", "max-stale=5")]),
        now
    ));
}

// ---- RFC 9111 4.1: matching ---------------------------------------------------------------------

#[test]
fn vary_selects_on_the_nominated_fields() {
    let req = get(URL, &[("accept-language", "en"), ("cookie", "secret")]);
    let p = Policy::new(
        &req,
        200,
        &headers(&[("cache-control", "max-age=60"), ("vary", "Accept-Language")]),
        shared(),
        t0(),
    )
    .unwrap();
    assert!(is_fresh_for(
        &p,
        &get(URL, &[("accept-language", "en")]),
        t0()
    ));
    assert!(matches!(
        p.before_request(&get(URL, &[("accept-language", "de")]), t0())
            .unwrap(),
        Freshness::Stale { matches: false, .. }
    ));
    assert!(
        !p.to_json().to_string().contains("secret"),
        "only the fields Vary names are kept"
    );
    assert!(!p.matches(&RequestInfo {
        method: "HEAD".into(),
        ..get(URL, &[("accept-language", "en")])
    }));
    assert!(!p.matches(&get("http://a.test/y", &[("accept-language", "en")])));
}

#[test]
fn vary_star_never_matches() {
    for vary in ["*", "*, foo", "foo, *"] {
        let p = policy(&[("cache-control", "max-age=60"), ("vary", vary)]);
        assert!(!p.is_storable(), "{vary}");
        assert!(
            matches!(
                p.before_request(&get(URL, &[]), t0()).unwrap(),
                Freshness::Stale { matches: false, .. }
            ),
            "{vary}"
        );
    }
}

// ---- RFC 9111 4.3: revalidation -------------------------------------------------------------------

#[test]
fn a_304_without_validators_updates_the_stored_response() {
    let req = get(URL, &[]);
    let p = policy(&[
        ("cache-control", "max-age=1"),
        ("etag", "\"v1\""),
        ("x-a", "old"),
    ]);
    let later = t0() + secs(10);
    let after = p
        .after_response(
            &req,
            304,
            &headers(&[("cache-control", "max-age=60"), ("x-a", "new")]),
            later,
        )
        .unwrap();
    assert!(!after.modified);
    assert!(!after.policy.is_stale(later + secs(30)));
    assert_eq!(value(&after.headers, "x-a"), Some("new"));
    assert_eq!(value(&after.headers, "etag"), Some("\"v1\""));
    // Without validators on either side as well.
    let bare = policy(&[("cache-control", "max-age=1")]);
    assert!(
        !bare
            .after_response(&req, 304, &HeaderMap::new(), later)
            .unwrap()
            .modified
    );
}

#[test]
fn a_304_about_the_clients_own_copy_does_not_update() {
    let p = policy(&[("cache-control", "max-age=1"), ("etag", "\"v1\"")]);
    // The client asked about its own copy "v2"; the 304 names it: not about the stored "v1".
    let client = get(URL, &[("if-none-match", "\"v2\"")]);
    assert!(
        p.after_response(&client, 304, &headers(&[("etag", "\"v2\"")]), t0())
            .unwrap()
            .modified
    );
    assert!(
        !p.after_response(&client, 304, &headers(&[("etag", "\"v1\"")]), t0())
            .unwrap()
            .modified
    );
    assert!(
        !p.after_response(&get(URL, &[]), 304, &headers(&[("etag", "W/\"v1\"")]), t0())
            .unwrap()
            .modified,
        "weak match"
    );
    let lm = policy(&[
        ("cache-control", "max-age=1"),
        ("last-modified", "Sun, 06 Nov 1994 08:49:37 GMT"),
    ]);
    let newer = headers(&[("last-modified", "Mon, 07 Nov 1994 08:49:37 GMT")]);
    assert!(
        !lm.after_response(
            &get(URL, &[]),
            304,
            &headers(&[("last-modified", "Sun, 06 Nov 1994 08:49:37 GMT")]),
            t0()
        )
        .unwrap()
        .modified
    );
    assert!(
        lm.after_response(
            &get(
                URL,
                &[("if-modified-since", "Mon, 07 Nov 1994 08:49:37 GMT")]
            ),
            304,
            &newer,
            t0()
        )
        .unwrap()
        .modified
    );
}

#[test]
fn a_304_with_another_etag_validates_but_keeps_the_stored_etag() {
    // http-cache-tests 304-etag-update-response-ETag (required).
    let p = policy(&[("cache-control", "max-age=1"), ("etag", "\"abcdef\"")]);
    let after = p
        .after_response(
            &get(URL, &[]),
            304,
            &headers(&[("etag", "\"ghijkl\""), ("cache-control", "max-age=2")]),
            t0(),
        )
        .unwrap();
    assert!(!after.modified);
    assert_eq!(value(&after.headers, "etag"), Some("\"abcdef\""));
}

#[test]
fn a_304_replaces_fields_but_not_those_describing_the_body() {
    let req = get(URL, &[]);
    let p = policy(&[
        ("cache-control", "max-age=1"),
        ("etag", "\"v1\""),
        ("content-length", "5"),
        ("content-encoding", "gzip"),
        ("content-type", "text/plain"),
    ]);
    let update = headers(&[
        ("etag", "W/\"v1\""),
        ("content-length", "10"),
        ("content-encoding", "br"),
        ("content-type", "text/html"),
        ("x-new", "1"),
    ]);
    let after = p.after_response(&req, 304, &update, t0()).unwrap();
    assert_eq!(value(&after.headers, "content-length"), Some("5"));
    assert_eq!(value(&after.headers, "content-encoding"), Some("gzip"));
    assert_eq!(value(&after.headers, "content-type"), Some("text/html"));
    assert_eq!(value(&after.headers, "x-new"), Some("1"));
    assert_eq!(value(&after.headers, "etag"), Some("\"v1\""));
}

#[test]
fn a_200_on_revalidation_is_a_new_response() {
    let req = get(URL, &[]);
    let p = policy(&[("cache-control", "max-age=1"), ("etag", "\"v1\"")]);
    let after = p
        .after_response(
            &req,
            200,
            &headers(&[("cache-control", "max-age=60"), ("etag", "\"v2\"")]),
            t0(),
        )
        .unwrap();
    assert!(after.modified);
    assert_eq!(
        value(after.policy.response_headers(), "etag"),
        Some("\"v2\"")
    );
}

#[test]
fn revalidation_headers_follow_the_request() {
    let p = policy(&[
        ("cache-control", "max-age=0"),
        ("etag", "W/\"w\""),
        ("last-modified", "Sun, 06 Nov 1994 08:49:37 GMT"),
    ]);
    let sent = p.revalidation_headers(&get(
        URL,
        &[
            ("connection", "x-hop"),
            ("x-hop", "1"),
            ("if-range", "\"a\""),
            ("accept", "*/*"),
        ],
    ));
    assert_eq!(value(&sent, "if-none-match"), Some("W/\"w\""));
    assert!(sent.contains_key("if-modified-since"));
    assert!(
        !sent.contains_key("x-hop")
            && !sent.contains_key("connection")
            && !sent.contains_key("if-range")
    );
    assert_eq!(value(&sent, "accept"), Some("*/*"));
    // Weak validators are not sent on anything but a plain GET.
    let head = RequestInfo {
        method: "HEAD".into(),
        ..get(URL, &[])
    };
    let sent = p.revalidation_headers(&head);
    assert!(!sent.contains_key("if-none-match") && !sent.contains_key("if-modified-since"));
}

#[test]
fn the_clients_own_conditionals_are_evaluated_against_the_stored_response() {
    let p = policy(&[
        ("cache-control", "max-age=60"),
        ("etag", "\"v1\""),
        ("last-modified", "Sun, 06 Nov 1994 08:49:37 GMT"),
    ]);
    assert!(p.not_modified_for(&get(URL, &[("if-none-match", "\"v0\", W/\"v1\"")])));
    assert!(p.not_modified_for(&get(URL, &[("if-none-match", "*")])));
    assert!(!p.not_modified_for(&get(URL, &[("if-none-match", "\"v2\"")])));
    // If-None-Match takes precedence over If-Modified-Since.
    assert!(!p.not_modified_for(&get(
        URL,
        &[
            ("if-none-match", "\"v2\""),
            ("if-modified-since", "Mon, 07 Nov 1994 08:49:37 GMT")
        ]
    )));
    assert!(p.not_modified_for(&get(
        URL,
        &[("if-modified-since", "Sun, 06 Nov 1994 08:49:37 GMT")]
    )));
    assert!(!p.not_modified_for(&get(
        URL,
        &[("if-modified-since", "Sat, 05 Nov 1994 08:49:37 GMT")]
    )));
    assert!(!p.not_modified_for(&get(URL, &[("if-modified-since", "garbage")])));
    assert!(!p.not_modified_for(&get(URL, &[])));
}

// ---- RFC 9111 4 and 5.1: constructing the served response ------------------------------------------

#[test]
fn the_stored_date_is_served_with_a_current_age() {
    let date = http_date(t0() - secs(5));
    let p = policy(&[
        ("cache-control", "max-age=3600"),
        ("date", &date),
        ("age", "30"),
    ]);
    let Freshness::Fresh { headers: served } =
        p.before_request(&get(URL, &[]), t0() + secs(10)).unwrap()
    else {
        panic!("expected fresh")
    };
    assert_eq!(value(&served, "date"), Some(date.as_str()));
    assert_eq!(value(&served, "age"), Some("40"));
}

#[test]
fn multi_valued_fields_are_served_whole() {
    let p = policy(&[
        ("cache-control", "max-age=60"),
        ("link", "</a>; rel=preload"),
        ("link", "</b>; rel=preload"),
    ]);
    assert_eq!(
        p.served_headers(t0())["link"],
        HeaderValue::Many(vec!["</a>; rel=preload".into(), "</b>; rel=preload".into()])
    );
}

#[test]
fn obs_text_values_survive_storage_exactly() {
    // Node and undici hand latin-1 bytes over as U+0080..U+00FF characters.
    let p = policy(&[
        ("cache-control", "max-age=60"),
        (
            "content-disposition",
            "attachment; filename=\"r\u{e9}sum\u{e9}.pdf\"",
        ),
        ("x-bytes", "\u{ff}\u{80}"),
    ]);
    let back = Policy::from_json(&serde_json::from_str(&p.to_json().to_string()).unwrap()).unwrap();
    let served = back.served_headers(t0());
    assert_eq!(
        value(&served, "content-disposition"),
        Some("attachment; filename=\"r\u{e9}sum\u{e9}.pdf\"")
    );
    assert_eq!(value(&served, "x-bytes"), Some("\u{ff}\u{80}"));
}

// ---- stored format ---------------------------------------------------------------------------------

#[test]
fn policies_written_by_http_cache_semantics_still_load() {
    use http_cache_semantics::{CacheOptions, CachePolicy};
    let req = http::Request::builder()
        .uri(URL)
        .header("accept-language", "en")
        .header("authorization", "x")
        .body(())
        .unwrap();
    let res = http::Response::builder()
        .status(200)
        .header("cache-control", "max-age=60, public")
        .header("vary", "accept-language")
        .header("etag", "\"v1\"")
        .body(())
        .unwrap();
    let legacy = CachePolicy::new_options(&req, &res, t0(), CacheOptions::default());
    let p = Policy::from_json(&serde_json::to_value(&legacy).unwrap()).unwrap();
    assert!(p.is_storable());
    assert_eq!(p.url(), URL);
    assert_eq!(p.time_to_live(t0() + secs(10)), secs(50));
    assert!(is_fresh_for(
        &p,
        &get(URL, &[("accept-language", "en")]),
        t0()
    ));
    assert!(!is_fresh_for(
        &p,
        &get(URL, &[("accept-language", "de")]),
        t0()
    ));
    assert_eq!(p.to_json()["v"], 2);
    assert!(p.to_json()["requestHeaders"].get("authorization").is_none());
    assert_eq!(p.to_json()["authorization"], true);
}

// ---- crash-proof: arbitrary header values and times ---------------------------------------------

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    fn header_text() -> impl Strategy<Value = String> {
        prop_oneof![
            "[ -~]{0,40}",
            "[0-9]{0,30}",
            "(max-age|s-maxage|stale-if-error|stale-while-revalidate|no-cache|private|must-revalidate|immutable|max-stale|min-fresh)(=\"?[0-9a-z\"., -]{0,25})?(, *[a-z-]{1,12}(=[0-9]{0,25})?){0,3}",
            "(Mon|Sun|Sunday|Thu)[ ,]{1,2}[0-9 ]{1,3}[ -](Nov|Feb|nov)[ -][0-9]{2,5} [0-9:]{5,9}( GMT)?",
            any::<String>().prop_map(|s| s.chars().filter(|c| !matches!(c, '\r' | '\n' | '\0')).take(30).collect()),
        ]
    }

    fn any_time() -> impl Strategy<Value = SystemTime> {
        prop_oneof![
            (0u64..4_000_000_000).prop_map(|s| UNIX_EPOCH + secs(s)),
            (0u64..u64::from(u32::MAX) * 100_000)
                .prop_map(|ms| UNIX_EPOCH + Duration::from_millis(ms)),
            Just(UNIX_EPOCH),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]
        #[test]
        fn no_response_or_request_makes_the_policy_panic(
            names in proptest::collection::vec(prop_oneof![
                Just("cache-control"), Just("age"), Just("expires"), Just("date"), Just("last-modified"),
                Just("etag"), Just("vary"), Just("pragma"), Just("connection"), Just("set-cookie"),
            ], 0..8),
            values in proptest::collection::vec(header_text(), 8),
            request_cc in header_text(),
            status in 100u16..=999,
            shared in any::<bool>(),
            received in any_time(),
            now in any_time(),
            heuristic_fraction in any::<f32>(),
            heuristic_min in any::<u64>(),
            heuristic_max in any::<u64>(),
        ) {
            let pairs: Vec<(&str, &str)> = names.iter().zip(values.iter()).map(|(n, v)| (*n, v.as_str())).collect();
            let options = PolicyOptions {
                shared,
                heuristic_fraction,
                heuristic_min: Duration::from_millis(heuristic_min),
                heuristic_max: Duration::from_secs(heuristic_max),
                ..PolicyOptions::default()
            };
            let asked = get(URL, &[("cache-control", &request_cc), ("if-none-match", &values[0]), ("if-modified-since", &values[1])]);
            let p = Policy::new(&asked, status, &headers(&pairs), options, received).unwrap();
            let p = Policy::from_json(&p.to_json()).unwrap();
            let _ = (p.is_storable(), p.is_stale(now), p.age(now), p.time_to_live(now), p.staleness(now));
            let _ = (p.can_stale_while_revalidate(now), p.can_stale_if_error(&asked, now), p.may_serve_stale());
            let _ = (p.served_headers(now), p.response_directives(), p.not_modified_for(&asked));
            let _ = p.before_request(&asked, now).unwrap();
            let _ = p.after_response(&asked, 304, &headers(&pairs), now).unwrap();
            let _ = p.after_response(&asked, status, &headers(&pairs), now).unwrap();
            let _ = RequestDirectives::parse(&headers(&pairs));
            prop_assert!(p.time_to_live(now) <= secs(MAX_DELTA_SECONDS));
        }
    }
}
