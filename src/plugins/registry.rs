//! The one table of plugins Skyport knows: Kong's name and priority, how a `config:` block
//! is parsed and checked into the model, and how an instance is built from it. Adding a
//! plugin is one folder implementing [`Factory`] and one line in [`PLUGINS`].

pub use super::factory::{CheckCtx, Checked, Factory, FieldIssues, Registration, ON_SCOPE};

/// Every plugin Skyport knows, with Kong's priorities.
pub static PLUGINS: [Registration; 18] = [
    Registration::of::<super::correlation_id::CorrelationId>("correlation-id", 100_001),
    Registration::of::<super::cors::Cors>("cors", 2000),
    Registration::of::<super::jwt::Jwt>("jwt", 1450),
    Registration::of::<super::key_auth::KeyAuth>("key-auth", 1250),
    Registration::of::<super::basic_auth::BasicAuth>("basic-auth", 1100),
    Registration::of::<super::ip_restriction::IpRestriction>("ip-restriction", 990),
    Registration::of::<super::request_size_limiting::RequestSizeLimiting>(
        "request-size-limiting",
        951,
    ),
    Registration::of::<super::acl::Acl>("acl", 950),
    Registration::of::<super::rate_limit::RateLimiting>("rate-limiting", 910),
    Registration::of::<super::request_transformer::RequestTransformer>("request-transformer", 801),
    Registration::of::<super::response_transformer::ResponseTransformer>(
        "response-transformer",
        800,
    ),
    Registration::of::<super::lambda::AwsLambda>("aws-lambda", 750),
    Registration::of::<super::proxy_cache::ProxyCache>("proxy-cache", 100),
    Registration::of::<super::opentelemetry::OpenTelemetry>("opentelemetry", 14),
    Registration::of::<super::prometheus::Prometheus>("prometheus", 13),
    Registration::of::<super::http_log::HttpLog>("http-log", 12),
    Registration::of::<super::file_log::FileLog>("file-log", 9),
    Registration::of::<super::request_termination::RequestTermination>("request-termination", 2),
];

/// The row of a plugin name.
pub fn find(name: &str) -> Option<&'static Registration> {
    PLUGINS.iter().find(|r| r.name == name)
}

/// The names of every known plugin, in table order.
pub fn names() -> impl Iterator<Item = &'static str> {
    PLUGINS.iter().map(|r| r.name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::PluginConfig;
    use crate::plugins::{BuildCtx, Chain, Phases, Plugin, RequestState, Scope};
    use serde::Deserialize;
    use serde::Serialize;
    use std::sync::Arc;

    /// A plugin defined here, registered by one `Registration::of` line.
    #[derive(Debug)]
    struct Stamp {
        header: HeaderValueText,
    }

    type HeaderValueText = String;

    #[derive(Debug, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    struct StampConfig {
        header: String,
    }

    #[async_trait::async_trait]
    impl Plugin for Stamp {
        fn name(&self) -> &'static str {
            "stamp"
        }

        fn phases(&self) -> Phases {
            Phases::RESPONSE
        }

        fn response(
            &self,
            resp: &mut pingora::http::ResponseHeader,
            _state: &mut RequestState,
        ) -> Result<(), crate::error::GatewayError> {
            let _ = resp.insert_header("x-stamp", self.header.as_str());
            Ok(())
        }
    }

    impl Factory for Stamp {
        type Spec = StampConfig;
        type Typed = usize;

        fn check(spec: &StampConfig, _: &CheckCtx<'_>) -> Result<usize, FieldIssues> {
            if spec.header.is_empty() {
                return Err(vec![("header".into(), "must not be empty".into())]);
            }
            Ok(spec.header.len())
        }

        fn build(c: &Checked<StampConfig, usize>, _: &BuildCtx, _: &Scope) -> Arc<dyn Plugin> {
            assert_eq!(c.typed, c.spec.header.len(), "typed values reach build");
            Arc::new(Stamp {
                header: c.spec.header.clone(),
            })
        }
    }

    const STAMP: Registration = Registration::of::<Stamp>("stamp", 2000);

    fn ctx() -> BuildCtx {
        BuildCtx {
            keyring: Default::default(),
            directory: Default::default(),
            clock: crate::plugins::system_clock(),
            lasting: Default::default(),
        }
    }

    fn scope() -> Scope {
        Scope {
            route_id: "r".into(),
            service_id: "s".into(),
        }
    }

    fn check_ctx_parse(
        entry: &Registration,
        raw: serde_json::Value,
    ) -> Result<PluginConfig, FieldIssues> {
        let nobody = |_: &str| false;
        let ctx = CheckCtx {
            name: entry.name,
            consumer_scoped: false,
            consumer_exists: &nobody,
        };
        (entry.parse)(Some(&raw), &ctx)
    }

    #[test]
    fn a_registered_plugin_is_parsed_checked_built_and_ordered_by_priority() {
        let stamp = check_ctx_parse(&STAMP, serde_json::json!({"header": "yes"}));
        let Ok(stamp) = stamp else {
            panic!("stamp config parses: {stamp:?}")
        };
        assert_eq!(
            serde_json::to_value(&stamp).ok(),
            Some(serde_json::json!({"header": "yes"})),
            "the admin API shows the spec"
        );
        let limit = check_ctx_parse(
            find("rate-limiting").expect("registered"),
            serde_json::json!({"minute": 5}),
        );
        let Ok(limit) = limit else {
            panic!("rate-limiting parses: {limit:?}")
        };
        let ctx = ctx();
        let built = |entry: &Registration, c: &PluginConfig| {
            (entry.build)(c, &ctx, &scope()).map(|p| (entry.priority, p))
        };
        let rl = find("rate-limiting").expect("registered");
        let chain = Chain::new(
            [built(rl, &limit), built(&STAMP, &stamp)]
                .into_iter()
                .flatten()
                .collect(),
        );
        let names: Vec<&str> = chain.plugins.iter().map(|p| p.name()).collect();
        assert_eq!(names, ["stamp", "rate-limiting"], "2000 runs before 910");
        assert!(chain.phases.has(Phases::RESPONSE) && chain.phases.has(Phases::ACCESS));
        assert!(!chain.phases.has(Phases::LOG));
        let responders: Vec<&str> = chain.in_phase(Phases::RESPONSE).map(|p| p.name()).collect();
        assert_eq!(responders, ["stamp"]);
        assert!(
            (STAMP.build)(&limit, &ctx, &scope()).is_none(),
            "a row builds only configs it parsed"
        );
    }

    #[test]
    fn a_plugins_checks_report_with_paths() {
        let bad = check_ctx_parse(&STAMP, serde_json::json!({"header": ""}));
        assert_eq!(
            bad.err(),
            Some(vec![(
                "header".to_string(),
                "must not be empty".to_string()
            )])
        );
        let unknown = check_ctx_parse(&STAMP, serde_json::json!({"hedaer": "x"}));
        assert_eq!(
            unknown.err(),
            Some(vec![
                ("hedaer".to_string(), "unknown field".to_string()),
                ("header".to_string(), "required field missing".to_string())
            ])
        );
    }

    #[test]
    fn the_table_holds_kongs_priorities() {
        let rows: Vec<(&str, i32)> = PLUGINS.iter().map(|r| (r.name, r.priority)).collect();
        assert_eq!(
            rows,
            [
                ("correlation-id", 100_001),
                ("cors", 2000),
                ("jwt", 1450),
                ("key-auth", 1250),
                ("basic-auth", 1100),
                ("ip-restriction", 990),
                ("request-size-limiting", 951),
                ("acl", 950),
                ("rate-limiting", 910),
                ("request-transformer", 801),
                ("response-transformer", 800),
                ("aws-lambda", 750),
                ("proxy-cache", 100),
                ("opentelemetry", 14),
                ("prometheus", 13),
                ("http-log", 12),
                ("file-log", 9),
                ("request-termination", 2),
            ]
        );
    }
}
