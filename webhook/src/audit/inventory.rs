//! The running workloads, read through the Kubernetes API, with ownership collapsed: a Pod
//! owned by a ReplicaSet owned by a Deployment is reported once, as the Deployment.

use std::collections::HashMap;

use kube::api::{ApiResource, DynamicObject, ListParams};
use kube::core::GroupVersionKind;
use kube::Api;

use super::AuditError;
use crate::workload::WorkloadKind;

/// Objects asked for per list call.
const PAGE: u32 = 500;
/// Longest ownership chain followed (CronJob → Job → Pod is 3).
const MAX_DEPTH: usize = 8;

/// One object of a handled kind as the API server returned it.
#[derive(Clone, Debug)]
pub struct Workload {
    /// Its kind.
    pub kind: WorkloadKind,
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Its uid, when the API server gave one.
    pub uid: Option<String>,
    /// The object as JSON, with apiVersion and kind set.
    pub object: serde_json::Value,
    /// How many listed objects it stands for besides itself (its pods, replica sets, jobs).
    pub owned: usize,
    controller: Option<String>,
}

/// Where to look: every namespace, or the given ones.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// Namespaces to list; empty means all.
    pub namespaces: Vec<String>,
}

/// Lists every handled kind in the selection.
pub async fn list(
    client: &kube::Client,
    selection: &Selection,
) -> Result<Vec<Workload>, AuditError> {
    let mut all = Vec::new();
    for kind in WorkloadKind::ALL {
        let gvk = GroupVersionKind::gvk(kind.group(), "v1", kind.kind());
        let resource = ApiResource::from_gvk_with_plural(&gvk, kind.resource());
        let apis: Vec<Api<DynamicObject>> = if selection.namespaces.is_empty() {
            vec![Api::all_with(client.clone(), &resource)]
        } else {
            selection
                .namespaces
                .iter()
                .map(|ns| Api::namespaced_with(client.clone(), ns, &resource))
                .collect()
        };
        for api in apis {
            for object in list_all(&api, kind).await? {
                all.extend(workload(kind, &resource, object));
            }
        }
    }
    Ok(all)
}

async fn list_all(
    api: &Api<DynamicObject>,
    kind: WorkloadKind,
) -> Result<Vec<DynamicObject>, AuditError> {
    let mut params = ListParams::default().limit(PAGE);
    let mut items = Vec::new();
    loop {
        let page = api.list(&params).await.map_err(|source| AuditError::List {
            resource: kind.resource(),
            source,
        })?;
        items.extend(page.items);
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => params = params.continue_token(&token),
            _ => return Ok(items),
        }
    }
}

fn workload(kind: WorkloadKind, resource: &ApiResource, object: DynamicObject) -> Option<Workload> {
    let meta = &object.metadata;
    let name = meta.name.clone()?;
    let namespace = meta.namespace.clone().unwrap_or_default();
    let uid = meta.uid.clone();
    let controller = meta
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true))
        .map(|o| o.uid.clone());
    let mut value = serde_json::to_value(&object).ok()?;
    if let Some(map) = value.as_object_mut() {
        // List items come without apiVersion and kind; the decoders want them.
        map.insert("apiVersion".into(), resource.api_version.clone().into());
        map.insert("kind".into(), kind.kind().into());
    }
    Some(Workload {
        kind,
        namespace,
        name,
        uid,
        object: value,
        owned: 0,
        controller,
    })
}

/// Keeps the workloads no listed workload controls, each counting what it stands for.
///
/// An object whose controller is not listed (a kind landed does not handle, or an owner
/// outside the selection) is its own root.
pub fn roots(workloads: Vec<Workload>) -> Vec<Workload> {
    let by_uid: HashMap<&str, usize> = workloads
        .iter()
        .enumerate()
        .filter_map(|(i, w)| Some((w.uid.as_deref()?, i)))
        .collect();
    let root_of = |mut i: usize| {
        for _ in 0..MAX_DEPTH {
            match workloads[i]
                .controller
                .as_deref()
                .and_then(|uid| by_uid.get(uid))
            {
                Some(&owner) if owner != i => i = owner,
                _ => break,
            }
        }
        i
    };
    let root: Vec<usize> = (0..workloads.len()).map(root_of).collect();
    let mut owned = vec![0usize; workloads.len()];
    for (i, &r) in root.iter().enumerate() {
        if r != i {
            owned[r] += 1;
        }
    }
    let is_root: Vec<bool> = root.iter().enumerate().map(|(i, &r)| r == i).collect();
    workloads
        .into_iter()
        .enumerate()
        .filter(|(i, _)| is_root[*i])
        .map(|(i, w)| Workload {
            owned: owned[i],
            ..w
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(kind: WorkloadKind, name: &str, uid: &str, controller: Option<&str>) -> Workload {
        Workload {
            kind,
            namespace: "shop".into(),
            name: name.into(),
            uid: Some(uid.into()),
            object: serde_json::Value::Null,
            owned: 0,
            controller: controller.map(str::to_owned),
        }
    }

    #[test]
    fn pods_collapse_into_their_deployment_and_cronjobs_keep_their_jobs() {
        use WorkloadKind::*;
        let list = vec![
            w(Pod, "web-abc-1", "p1", Some("rs1")),
            w(Pod, "web-abc-2", "p2", Some("rs1")),
            w(ReplicaSet, "web-abc", "rs1", Some("d1")),
            w(Deployment, "web", "d1", None),
            w(Pod, "nightly-1-x", "p3", Some("j1")),
            w(Job, "nightly-1", "j1", Some("c1")),
            w(CronJob, "nightly", "c1", None),
            w(Pod, "bare", "p4", None),
            w(Pod, "from-an-operator", "p5", Some("crd-owner")),
        ];
        let roots: Vec<(String, usize)> =
            roots(list).into_iter().map(|w| (w.name, w.owned)).collect();
        assert_eq!(
            roots,
            [
                ("web".to_owned(), 3),
                ("nightly".to_owned(), 2),
                ("bare".to_owned(), 0),
                ("from-an-operator".to_owned(), 0),
            ]
        );
    }
}
