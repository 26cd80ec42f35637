//! The pass over upstreams and their targets (nested or naming their upstream).

use super::common::{assign_id, parse, unique, HashMap, Index, Raw};
use super::Validation;
use crate::config::file::{TargetSpec, UpstreamSpec};
use crate::issues::join;
use crate::model::Target;

/// Upstreams, then their targets (nested or naming their upstream).
pub(super) fn upstreams_and_targets(
    v: &mut Validation,
    raw_upstreams: &[Raw<'_>],
    raw_targets: &[Raw<'_>],
) {
    let (model, issues) = (&mut v.model, &mut v.issues);
    let mut index = Index::new("upstream");
    let mut ids = HashMap::default();
    let mut names = HashMap::default();
    // Raw position -> index in `model.upstreams` (entries that failed are left out).
    let mut placed = Vec::with_capacity(raw_upstreams.len());
    for raw in raw_upstreams {
        let spec = parse::<UpstreamSpec>(raw.value, &raw.path, issues);
        let name = raw.str_field("name").unwrap_or(&raw.path).to_string();
        let id = assign_id(
            "upstreams",
            spec.as_ref().and_then(|s| s.id.as_deref()),
            &name,
            &raw.path,
            &mut ids,
            issues,
        );
        let up =
            spec.and_then(|s| crate::config::upstreams::upstream(s, id.clone(), &raw.path, issues));
        let Some(up) = up else {
            placed.push(None);
            continue;
        };
        unique("upstreams", "name", &up.name, &raw.path, &mut names, issues);
        index.by_key.insert(up.name.clone(), model.upstreams.len());
        index.by_key.insert(id, model.upstreams.len());
        index.add_name(&up.name);
        placed.push(Some(model.upstreams.len()));
        model.upstreams.push(up);
    }
    let mut target_ids = HashMap::default();
    let mut per_upstream = HashMap::default();
    for raw in raw_targets {
        let Some(spec) = parse::<TargetSpec>(raw.value, &raw.path, issues) else {
            continue;
        };
        let upstream = match (&spec.upstream, raw.parent) {
            (_, Some(p)) => placed[p],
            (Some(r), None) => index.resolve(r, &join(&raw.path, "upstream"), issues),
            (None, None) => {
                issues.push(join(&raw.path, "upstream"), "required field missing");
                None
            }
        };
        let Some(written) = spec.target.as_deref() else {
            issues.push(join(&raw.path, "target"), "required field missing");
            continue;
        };
        let (host, port) = match crate::config::upstreams::parse_target(written) {
            Ok(hp) => hp,
            Err(e) => {
                issues.push(join(&raw.path, "target"), e);
                continue;
            }
        };
        let weight = spec.weight.unwrap_or(100);
        if weight > 65_535 {
            issues.push(
                join(&raw.path, "weight"),
                "value should be between 0 and 65535",
            );
        }
        let Some(upstream) = upstream else { continue };
        let target = crate::config::upstreams::target_name(&host, port);
        let up_name = &model.upstreams[upstream].name;
        let id = assign_id(
            "targets",
            spec.id.as_deref(),
            &format!("{up_name}/{target}"),
            &raw.path,
            &mut target_ids,
            issues,
        );
        if let Some(first) = per_upstream.insert((upstream, target.clone()), raw.path.clone()) {
            issues.push(
                join(&raw.path, "target"),
                format!("uniqueness violation: target '{target}' of upstream '{up_name}' already declared at {first}"),
            );
        }
        model.targets.push(Target {
            id,
            target,
            host,
            port,
            weight,
            upstream,
            tags: spec.tags,
        });
    }
}
