//! The mock API server's list filters (`labelSelector` equality terms, `fieldSelector` on
//! dotted paths) and its typed checks: the `apiVersion`/`kind` a collection takes and the
//! k8s-openapi type a body must deserialise as.

use std::collections::BTreeMap;

use serde_json::Value;

/// `a=b,c=d` (equality terms; `!=` and set terms are not used by slipway and are refused).
fn terms(selector: &str) -> Vec<(String, String)> {
    selector
        .split(',')
        .filter(|t| !t.is_empty())
        .filter_map(|t| t.split_once('=').map(|(k, v)| (k.trim_end_matches('=').to_string(), v.to_string())))
        .collect()
}

fn at<'a>(obj: &'a Value, dotted: &str) -> &'a Value {
    dotted.split('.').fold(obj, |v, k| &v[k])
}

/// The items of a collection matching the query's selectors, as clones.
pub fn matching(items: Vec<&Value>, query: &BTreeMap<String, String>) -> Vec<Value> {
    let labels = query.get("labelSelector").map(|s| terms(s)).unwrap_or_default();
    let fields = query.get("fieldSelector").map(|s| terms(s)).unwrap_or_default();
    items
        .into_iter()
        .filter(|o| labels.iter().all(|(k, v)| o["metadata"]["labels"][k.as_str()].as_str() == Some(v.as_str())))
        .filter(|o| fields.iter().all(|(k, v)| at(o, k).as_str() == Some(v.as_str())))
        .cloned()
        .collect()
}

/// `(apiVersion, kind)` of a collection's objects.
fn type_of(collection: &str) -> Option<(&'static str, &'static str)> {
    Some(match collection.rsplit('/').next().unwrap_or_default() {
        "deployments" => ("apps/v1", "Deployment"),
        "statefulsets" => ("apps/v1", "StatefulSet"),
        "jobs" => ("batch/v1", "Job"),
        "services" => ("v1", "Service"),
        "secrets" => ("v1", "Secret"),
        "configmaps" => ("v1", "ConfigMap"),
        "persistentvolumeclaims" => ("v1", "PersistentVolumeClaim"),
        "pods" => ("v1", "Pod"),
        "events" => ("v1", "Event"),
        "ingresses" => ("networking.k8s.io/v1", "Ingress"),
        "leases" => ("coordination.k8s.io/v1", "Lease"),
        "ingressroutes" => ("traefik.io/v1alpha1", "IngressRoute"),
        _ => return None,
    })
}

/// The list kind of a collection (`DeploymentList`).
pub fn list_kind(collection: &str) -> String {
    type_of(collection).map_or("List".into(), |(_, k)| format!("{k}List"))
}

fn typed<T: serde::de::DeserializeOwned>(body: &Value) -> Result<(), String> {
    serde_json::from_value::<T>(body.clone()).map(|_| ()).map_err(|e| e.to_string())
}

/// A body for `collection`: its apiVersion and kind are the collection's, and it deserialises as
/// the k8s-openapi type (what the API server's decoding would refuse, it refuses: 400).
pub fn check_typed(collection: &str, body: &Value) -> Result<(), (u16, Value)> {
    use k8s_openapi::api::{apps, batch, coordination, core, networking};
    let Some((api_version, kind)) = type_of(collection) else {
        return Err(super::status(
            404,
            "NotFound",
            &format!("the server could not find the requested resource ({collection})"),
        ));
    };
    let bad = |m: String| Err(super::status(400, "BadRequest", &m));
    if body["apiVersion"].as_str() != Some(api_version) || body["kind"].as_str() != Some(kind) {
        return bad(format!(
            "the API version in the data ({}) does not match the expected API version ({api_version}) or kind {kind}",
            body["apiVersion"]
        ));
    }
    if body["metadata"]["name"].as_str().is_none_or(str::is_empty) {
        return Err(super::status(
            422,
            "Invalid",
            &format!("{kind} \"\" is invalid: metadata.name: Required value: name or generateName is required"),
        ));
    }
    let decoded = match kind {
        "Deployment" => typed::<apps::v1::Deployment>(body),
        "StatefulSet" => typed::<apps::v1::StatefulSet>(body),
        "Job" => typed::<batch::v1::Job>(body),
        "Service" => typed::<core::v1::Service>(body),
        "Secret" => typed::<core::v1::Secret>(body),
        "ConfigMap" => typed::<core::v1::ConfigMap>(body),
        "PersistentVolumeClaim" => typed::<core::v1::PersistentVolumeClaim>(body),
        "Pod" => typed::<core::v1::Pod>(body),
        "Event" => typed::<core::v1::Event>(body),
        "Ingress" => typed::<networking::v1::Ingress>(body),
        "Lease" => typed::<coordination::v1::Lease>(body),
        _ => Ok(()), // a CRD: its schema is the CRD's, checked offline by kubernetes-validate
    };
    match decoded {
        Ok(()) => Ok(()),
        Err(e) => bad(format!("{kind} in version \"{api_version}\" cannot be handled as a {kind}: {e}")),
    }
}
