//! The mock's controllers, advanced one step per read of the object (a real controller runs on
//! its own; a read here stands for "some time later"). They set status as the deployment and job
//! controllers of Kubernetes 1.33 do (pkg/controller/deployment, pkg/controller/job):
//! - a Deployment whose generation is newer than `status.observedGeneration` is first observed:
//!   a new ReplicaSet `<name>-<template hash>` gets a surge pod, `updatedReplicas` 1, old pods
//!   still available, `Progressing=True/ReplicaSetUpdated`; the next step makes every replica
//!   updated, ready and available (`Progressing=True/NewReplicaSetAvailable`,
//!   `Available=True/MinimumReplicasAvailable`), old pods gone. A pod whose image is failing never
//!   becomes ready: its readiness probe fails (a `Warning Unhealthy` event) and the Deployment
//!   ends with `Progressing=False/ProgressDeadlineExceeded`, old pods still serving.
//! - a Job gets a pod and `active: 1`, then `succeeded: 1` with `SuccessCriteriaMet` and
//!   `Complete`, or (failing image, `backoffLimit` 0) `failed: 1` with `FailureTarget` and
//!   `Failed`, reason `BackoffLimitExceeded`.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::ApiState;

fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn condition(type_: &str, status: &str, reason: &str, message: &str) -> Value {
    json!({"type": type_, "status": status, "reason": reason, "message": message,
        "lastTransitionTime": now(), "lastUpdateTime": now()})
}

fn template_hash(template: &Value) -> String {
    let h = Sha256::digest(serde_json::to_vec(template).unwrap_or_default());
    hex::encode(h)[..10].to_string()
}

fn namespace_of(key: &str) -> String {
    key.split('/').skip_while(|p| *p != "namespaces").nth(1).unwrap_or_default().to_string()
}

fn image_of(template: &Value) -> String {
    template["spec"]["containers"][0]["image"].as_str().unwrap_or_default().to_string()
}

/// Called after a server-side apply stored `key`: a changed spec restarts its controller.
pub fn applied(s: &mut ApiState, _collection: &str, key: &str) {
    let generation = s.objects[key]["metadata"]["generation"].as_i64().unwrap_or(1);
    let observed = s.objects[key]["status"]["observedGeneration"].as_i64().unwrap_or(0);
    if generation > observed {
        s.ticks.insert(key.to_string(), 0);
    }
}

/// Advance every controller of a collection one step (a list shows where they are).
pub fn reconcile_all(s: &mut ApiState, collection: &str) {
    if collection.ends_with("/deployments") || collection.ends_with("/jobs") {
        let keys: Vec<String> = s
            .collection(collection)
            .iter()
            .filter_map(|o| o["metadata"]["name"].as_str().map(|n| format!("{collection}/{n}")))
            .collect();
        for k in keys {
            reconcile(s, &k);
        }
    }
}

/// Advance the controller of one object a step.
pub fn reconcile(s: &mut ApiState, key: &str) {
    if key.contains("/deployments/") && s.objects.contains_key(key) {
        deployment(s, key);
    } else if key.contains("/jobs/") && s.objects.contains_key(key) {
        job(s, key);
    }
}

fn pods_path(key: &str) -> String {
    format!("/api/v1/namespaces/{}/pods", namespace_of(key))
}

fn put_pod(s: &mut ApiState, key: &str, name: &str, template: &Value, extra: Value, phase: &str, ready: bool) {
    let mut labels = template["metadata"]["labels"].clone();
    if let (Some(l), Some(e)) = (labels.as_object_mut(), extra.as_object()) {
        l.extend(e.clone());
    }
    let ready_s = if ready { "True" } else { "False" };
    let pod = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace_of(key), "labels": labels},
        "spec": template["spec"].clone(),
        "status": {"phase": phase, "conditions": [
            {"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": ready_s},
            {"type": "ContainersReady", "status": ready_s}],
            "containerStatuses": [{"name": template["spec"]["containers"][0]["name"], "image": image_of(template),
                "imageID": "", "ready": ready, "restartCount": 0, "started": phase == "Running",
                "state": if phase == "Running" { json!({"running": {"startedAt": now()}}) } else { json!({"terminated": {"exitCode": if phase == "Failed" { 1 } else { 0 }, "reason": if phase == "Failed" { "Error" } else { "Completed" }}}) }}]}});
    s.seed(&pods_path(key), pod);
}

fn event(s: &mut ApiState, key: &str, pod: &str, type_: &str, reason: &str, message: &str) {
    let n = s.collection(&format!("/api/v1/namespaces/{}/events", namespace_of(key))).len();
    let ev = json!({"apiVersion": "v1", "kind": "Event",
        "metadata": {"name": format!("{pod}.{n:016x}"), "namespace": namespace_of(key)},
        "involvedObject": {"kind": "Pod", "name": pod, "namespace": namespace_of(key)},
        "type": type_, "reason": reason, "message": message, "count": 1,
        "firstTimestamp": now(), "lastTimestamp": now(), "source": {"component": "kubelet"}});
    s.seed(&format!("/api/v1/namespaces/{}/events", namespace_of(key)), ev);
}

fn remove_pods(s: &mut ApiState, key: &str, label: &str, value: &str, keep_prefix: Option<&str>) {
    let prefix = format!("{}/", pods_path(key));
    s.objects.retain(|k, v| {
        !(k.starts_with(&prefix)
            && v["metadata"]["labels"][label].as_str() == Some(value)
            && keep_prefix.is_none_or(|p| !v["metadata"]["name"].as_str().unwrap_or_default().starts_with(p)))
    });
}

fn deployment(s: &mut ApiState, key: &str) {
    let d = s.objects[key].clone();
    let name = d["metadata"]["name"].as_str().unwrap_or_default().to_string();
    let generation = d["metadata"]["generation"].as_i64().unwrap_or(1);
    let want = d["spec"]["replicas"].as_i64().unwrap_or(1);
    let template = d["spec"]["template"].clone();
    let hash = template_hash(&template);
    let rs = format!("{name}-{hash}");
    let failing = s.failing_images.contains(&image_of(&template));
    let stalled = s.stalled_images.contains(&image_of(&template));
    let Some(tick) = s.ticks.get(key).copied() else { return };
    let st = d["status"].clone();
    let old_available = st["availableReplicas"].as_i64().unwrap_or(0);
    let status = match tick {
        0 => {
            put_pod(s, key, &format!("{rs}-a1b2c"), &template, json!({"pod-template-hash": hash}), "Running", false);
            json!({"observedGeneration": generation, "replicas": old_available + 1, "updatedReplicas": 1,
                "readyReplicas": old_available, "availableReplicas": old_available,
                "unavailableReplicas": (want - old_available).max(0),
                "conditions": [
                    if old_available >= want { condition("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.") }
                    else { condition("Available", "False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability.") },
                    condition("Progressing", "True", "ReplicaSetUpdated", &format!("ReplicaSet \"{rs}\" is progressing."))]})
        }
        _ if stalled => st,
        _ if failing => {
            let pod = format!("{rs}-a1b2c");
            event(s, key, &pod, "Warning", "Unhealthy", "Readiness probe failed: connection refused");
            if tick < 2 {
                st
            } else {
                let mut st = st;
                st["conditions"][1] = condition(
                    "Progressing",
                    "False",
                    "ProgressDeadlineExceeded",
                    &format!("ReplicaSet \"{rs}\" has timed out progressing."),
                );
                s.ticks.remove(key);
                st
            }
        }
        _ => {
            let selector =
                d["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"].as_str().unwrap_or_default().to_string();
            remove_pods(s, key, "app.kubernetes.io/name", &selector, Some(&rs));
            for i in 0..want {
                put_pod(
                    s,
                    key,
                    &format!("{rs}-p{i:04}"),
                    &template,
                    json!({"pod-template-hash": hash}),
                    "Running",
                    true,
                );
            }
            let pending = format!("{}/{rs}-a1b2c", pods_path(key));
            s.objects.remove(&pending);
            s.ticks.remove(key);
            json!({"observedGeneration": generation, "replicas": want, "updatedReplicas": want, "readyReplicas": want,
                "availableReplicas": want,
                "conditions": [condition("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability."),
                    condition("Progressing", "True", "NewReplicaSetAvailable", &format!("ReplicaSet \"{rs}\" has successfully progressed."))]})
        }
    };
    if let Some(t) = s.ticks.get_mut(key) {
        *t += 1;
    }
    if let Some(o) = s.objects.get_mut(key) {
        o["status"] = status;
    }
}

fn job(s: &mut ApiState, key: &str) {
    let j = s.objects[key].clone();
    let name = j["metadata"]["name"].as_str().unwrap_or_default().to_string();
    let template = j["spec"]["template"].clone();
    let failing = s.failing_images.contains(&image_of(&template));
    let Some(tick) = s.ticks.get(key).copied() else { return };
    let pod = format!("{name}-x7k2p");
    let labels = json!({"job-name": name, "batch.kubernetes.io/job-name": name});
    let status = if tick == 0 {
        put_pod(s, key, &pod, &template, labels, "Running", false);
        json!({"active": 1, "ready": 0, "terminating": 0, "startTime": now()})
    } else if failing {
        put_pod(s, key, &pod, &template, labels, "Failed", false);
        event(s, key, &pod, "Warning", "BackOff", "Back-off restarting failed container");
        let m = "Job has reached the specified backoff limit";
        s.ticks.remove(key);
        json!({"failed": 1, "active": 0, "ready": 0, "terminating": 0, "startTime": j["status"]["startTime"],
            "conditions": [condition("FailureTarget", "True", "BackoffLimitExceeded", m), condition("Failed", "True", "BackoffLimitExceeded", m)]})
    } else {
        put_pod(s, key, &pod, &template, labels, "Succeeded", false);
        let m = "Reached expected number of succeeded pods";
        s.ticks.remove(key);
        json!({"succeeded": 1, "active": 0, "ready": 0, "terminating": 0, "startTime": j["status"]["startTime"],
            "completionTime": now(),
            "conditions": [condition("SuccessCriteriaMet", "True", "CompletionsReached", m), condition("Complete", "True", "CompletionsReached", m)]})
    };
    if let Some(t) = s.ticks.get_mut(key) {
        *t += 1;
    }
    if let Some(o) = s.objects.get_mut(key) {
        o["status"] = status;
    }
}

/// A pod's log: the failing lines for a failing image, else nothing.
pub fn pod_log(s: &ApiState, collection: &str, name: &str) -> String {
    let image = s
        .objects
        .get(&format!("{collection}/{name}"))
        .map(|p| p["spec"]["containers"][0]["image"].as_str().unwrap_or_default().to_string())
        .unwrap_or_default();
    if s.failing_images.contains(&image) {
        s.failing_logs.iter().map(|l| format!("{l}\n")).collect()
    } else {
        String::new()
    }
}

/// After a delete: a Job's or Deployment's pods go with it.
pub fn deleted(s: &mut ApiState, collection: &str, name: &str) {
    let key = format!("{collection}/{name}");
    if collection.ends_with("/jobs") {
        remove_pods(s, &key, "job-name", name, None);
    }
    s.ticks.remove(&key);
}
