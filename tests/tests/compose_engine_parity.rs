//! Engine parity: one compose file using the container keys slipway reads, created by
//! `docker compose up --no-start` and by slipway (networks and volumes from its create requests,
//! containers from `container_plan`, created and not started), then `docker inspect` of both
//! compared field by field: HostConfig (device requests included: created, never started, so no
//! GPU is needed), Config, networks with aliases and addresses, mounts.
//! The test names every field that differs. Images: the harness's busybox fixture (nothing is
//! pulled).

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::Value;
use slipway::compose::{load, LoadOptions};
use slipway::deploy::labels::ContainerIdentity;
use slipway::deploy::{container_plan, network_create, volume_create};
use slipway_e2e::cleanup::Cleanup;

const COMPOSE: &str = r#"
services:
  app:
    image: ${IMAGE}
    container_name: ${P}-fixed
    command: ["sleep", "3600"]
    hostname: app-host
    domainname: example.test
    user: "1000:1000"
    working_dir: /tmp
    expose: ["8080", "9000-9001/udp"]
    ports: ["80"]
    stop_signal: SIGINT
    tty: true
    stdin_open: true
    init: true
    cap_add: [NET_ADMIN]
    cap_drop: [MKNOD]
    read_only: true
    privileged: false
    security_opt: ["no-new-privileges:true"]
    tmpfs: ["/run", "/cache:size=1m"]
    ulimits:
      nofile: {soft: 1024, hard: 2048}
      nproc: 512
    sysctls:
      net.core.somaxconn: 1024
    dns: [10.0.0.53]
    dns_search: [example.test]
    dns_opt: [use-vc]
    extra_hosts: ["db.local:10.1.2.3", "other=10.1.2.4"]
    mem_limit: 64m
    memswap_limit: 128m
    mem_reservation: 32m
    cpus: 0.5
    cpu_shares: 512
    pids_limit: 64
    shm_size: 32m
    oom_score_adj: 100
    group_add: ["100"]
    gpus: all
    logging:
      driver: json-file
      options: {max-size: 1m, max-file: "2"}
    networks:
      front:
        aliases: [web]
        ipv4_address: ${SUBNET}.10
    volumes:
      - data:/data/
      - ./conf:/conf:ro
      - type: tmpfs
        target: /scratch
        tmpfs: {size: 2m, mode: 1770}
      - type: volume
        source: data
        target: /nocopy
        volume: {nocopy: true}
    secrets: [token]
  side:
    image: ${IMAGE}
    command: ["sleep", "3600"]
    network_mode: "service:app"
    deploy:
      resources:
        limits: {memory: 48m, cpus: "0.25", pids: 32}
        reservations:
          memory: 16m
          devices:
            - {driver: nvidia, count: all, capabilities: [gpu]}
            - {device_ids: ["0", "1"], capabilities: [gpu, compute], options: {visible: "true"}}
            - {count: 2, capabilities: [tpu], options: [mode=fast]}
    gpus:
      - {driver: nvidia, count: 1, capabilities: [compute]}
      - device_ids: ["GPU-3"]
networks:
  front:
    ipam:
      config:
        - subnet: ${SUBNET}.0/24
volumes:
  data: {}
secrets:
  token:
    file: ./token.txt
"#;

fn inspect(name: &str) -> Value {
    let out = Command::new("docker").args(["inspect", name]).output().expect("docker inspect runs");
    assert!(out.status.success(), "docker inspect {name}: {}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("inspect json");
    v[0].clone()
}

/// The fields compared, with project names and container ids replaced by placeholders.
fn fields(c: &Value, project: &str, ids: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let norm = |v: &Value| {
        let mut s = v.to_string().replace(project, "PROJECT");
        for (id, name) in ids {
            s = s.replace(id, name);
        }
        s
    };
    let mut out = BTreeMap::new();
    let hc = &c["HostConfig"];
    for k in [
        "CapAdd",
        "CapDrop",
        "ReadonlyRootfs",
        "Tmpfs",
        "Ulimits",
        "Sysctls",
        "Dns",
        "DnsSearch",
        "DnsOptions",
        "ExtraHosts",
        "Memory",
        "MemorySwap",
        "MemoryReservation",
        "NanoCpus",
        "CpuShares",
        "PidsLimit",
        "Privileged",
        "SecurityOpt",
        "LogConfig",
        "NetworkMode",
        "ShmSize",
        "Init",
        "GroupAdd",
        "OomScoreAdj",
        "Devices",
        "DeviceRequests",
        "IpcMode",
        "PidMode",
    ] {
        out.insert(format!("HostConfig.{k}"), norm(&hc[k]));
    }
    let cfg = &c["Config"];
    for k in ["Hostname", "Domainname", "User", "WorkingDir", "ExposedPorts", "StopSignal", "Tty", "OpenStdin"] {
        // Without `hostname:` the engine makes one from the container id.
        if k == "Hostname"
            && c["Config"]["Hostname"].as_str().is_some_and(|h| c["Id"].as_str().is_some_and(|id| id.starts_with(h)))
        {
            continue;
        }
        out.insert(format!("Config.{k}"), norm(&cfg[k]));
    }
    // Ulimits and extra hosts in a stable order (Compose passes them in Go map order).
    for k in ["Ulimits", "ExtraHosts"] {
        let mut items: Vec<String> = hc[k].as_array().into_iter().flatten().map(|u| u.to_string()).collect();
        items.sort();
        out.insert(format!("HostConfig.{k}"), items.join(","));
    }
    if let Some(nets) = c["NetworkSettings"]["Networks"].as_object() {
        for (n, e) in nets {
            let n = n.replace(project, "PROJECT");
            let mut aliases: Vec<String> = e["Aliases"]
                .as_array()
                .into_iter()
                .flatten()
                .map(&norm)
                .filter(|a| !a.contains("fixed") && a.len() != 14)
                .collect();
            aliases.sort();
            out.insert(format!("Networks.{n}.Aliases"), aliases.join(","));
            out.insert(format!("Networks.{n}.IPAMConfig"), norm(&e["IPAMConfig"]));
        }
    }
    let mut mounts: Vec<String> = c["Mounts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            format!(
                "{} {} {} rw={} {}",
                m["Type"],
                norm(&m["Name"]),
                norm(&m["Destination"]),
                m["RW"],
                m["Propagation"]
            )
        })
        .collect();
    mounts.sort();
    out.insert("Mounts".into(), mounts.join("; "));
    // The options of API mounts (tmpfs size/mode, nocopy, bind options). A plain named volume
    // is passed by Compose as `Binds` and by slipway as a mount: the effective mount (`Mounts`
    // above) is the same, so plain volume entries are left out here.
    let mut hc_mounts: Vec<String> = hc["Mounts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| !(m["Type"] == "volume" && m.get("VolumeOptions").is_none()))
        .map(norm)
        .collect();
    hc_mounts.sort();
    out.insert("HostConfig.Mounts".into(), hc_mounts.join("; "));
    out
}

#[tokio::test]
async fn slipway_creates_containers_with_the_settings_compose_gives_them() {
    let image = slipway_e2e::images::busybox_base().await.expect("busybox fixture");
    let docker = slipway_e2e::docker::connect().await.expect("engine");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("compose.yml"), COMPOSE).unwrap();
    std::fs::write(dir.path().join("token.txt"), "t0ken\n").unwrap();
    std::fs::create_dir(dir.path().join("conf")).unwrap();
    let cleanup = Cleanup::new();
    let pc = slipway_e2e::names::unique("parity-c");
    let ps = slipway_e2e::names::unique("parity-s");
    let (subnet_c, subnet_s) = ("10.231.201", "10.231.202");

    // docker compose up --no-start
    let out = Command::new("docker")
        .args(["compose", "-p", &pc, "up", "--no-start"])
        .current_dir(dir.path())
        .env("IMAGE", &image)
        .env("P", &pc)
        .env("SUBNET", subnet_c)
        .output()
        .expect("docker compose runs");
    cleanup.container(format!("{pc}-fixed")).container(format!("{pc}-side-1"));
    cleanup.network(format!("{pc}_front")).volume(format!("{pc}_data"));
    assert!(out.status.success(), "compose up --no-start: {}", String::from_utf8_lossy(&out.stderr));

    // slipway: the same file, created without starting
    let env: BTreeMap<String, String> = [
        ("IMAGE", image.as_str()),
        ("P", ps.as_str()),
        ("SUBNET", subnet_s),
        ("PATH", &std::env::var("PATH").unwrap_or_default()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let opts = LoadOptions::new([dir.path().join("compose.yml")]).environment(env).project(&ps);
    let stack = load(&opts).expect("slipway loads the file").stack;
    for (key, n) in &stack.networks {
        cleanup.network(&n.name);
        docker.create_network(network_create(&stack, key, &n.name, &ps)).await.expect("network");
    }
    for (key, v) in &stack.volumes {
        cleanup.volume(&v.name);
        docker.create_volume(volume_create(&stack, key, &v.name, &ps)).await.expect("volume");
    }
    let mut names = BTreeMap::new();
    for svc in ["app", "side"] {
        let id =
            ContainerIdentity { project: &ps, service: svc, release: "1", config_hash: "h", replica: 1, oneoff: false };
        let plan = container_plan(&stack, &stack.services[svc], &id);
        cleanup.container(&plan.name);
        let opts =
            bollard::query_parameters::CreateContainerOptions { name: Some(plan.name.clone()), ..Default::default() };
        docker.create_container(Some(opts), plan.body.clone()).await.expect("create");
        names.insert(svc, plan.name.clone());
    }

    let mut diffs = Vec::new();
    for (svc, compose_name, slipway_name) in
        [("app", format!("{pc}-fixed"), names["app"].clone()), ("side", format!("{pc}-side-1"), names["side"].clone())]
    {
        let (c, s) = (inspect(&compose_name), inspect(&slipway_name));
        // Both services ask for devices: the comparison below is not of two empty lists.
        let requests = c["HostConfig"]["DeviceRequests"].as_array().map_or(0, Vec::len);
        assert_eq!(requests, if svc == "app" { 1 } else { 5 }, "{svc}: compose's device requests");
        let ids_c: BTreeMap<String, String> =
            [(inspect(&format!("{pc}-fixed"))["Id"].as_str().unwrap_or_default().to_string(), "APP".to_string())]
                .into();
        let ids_s: BTreeMap<String, String> =
            [(inspect(&names["app"])["Id"].as_str().unwrap_or_default().to_string(), "APP".to_string())].into();
        let mut fc = fields(&c, &pc, &ids_c);
        let mut fs = fields(&s, &ps, &ids_s);
        // The two runs use their own subnet (networks cannot overlap) and container names.
        for f in [&mut fc, &mut fs] {
            for v in f.values_mut() {
                *v = v.replace(subnet_c, "SUBNET").replace(subnet_s, "SUBNET");
                *v = v
                    .replace(&format!("{pc}-fixed"), "APP")
                    .replace(&names["app"], "APP")
                    .replace(&format!("{ps}-fixed"), "APP");
            }
        }
        for (k, v) in &fc {
            let theirs = fs.get(k).cloned().unwrap_or_else(|| "(absent)".into());
            if &theirs != v {
                diffs.push(format!("{svc} {k}: compose {v} / slipway {theirs}"));
            }
        }
        for k in fs.keys().filter(|k| !fc.contains_key(*k)) {
            diffs.push(format!("{svc} {k}: compose (absent) / slipway {}", fs[k]));
        }
    }
    cleanup.run_now();
    assert!(diffs.is_empty(), "{} fields differ:\n{}", diffs.len(), diffs.join("\n"));
}
