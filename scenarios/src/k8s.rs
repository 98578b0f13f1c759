//! Kubernetes manifests for a sharded load run on a cluster: the profile
//! and SLOs in a `ConfigMap`, a `ReadWriteMany` claim for the results, an
//! Indexed `Job` of N load generators (pod `I` runs `gauntlet load --shard
//! I/N`), and a collector `Job` that merges their `shard.json` files once
//! they are all written (`gauntlet load merge`).
//!
//! The generators take their shard index from `JOB_COMPLETION_INDEX`,
//! declared in the container's own environment from the pod annotation
//! `batch.kubernetes.io/job-completion-index` (downward API): `$(VAR)` in
//! `args` expands only variables of the container spec. Recent control
//! planes inject the same variable themselves, but only when the container
//! does not declare it, so declaring it works on every version since
//! Indexed Jobs exist (1.21) and the expansion never depends on it.

use std::collections::BTreeMap;

use serde_json::{json, Value};

/// The `Secret` the generators read the project's `[secrets]` variables
/// from (each optional: create it with the ones the load needs).
pub const SECRET_NAME: &str = "gauntlet-secrets";

/// Where the `ConfigMap` is mounted, and the results claim.
pub const CONFIG_DIR: &str = "/config";
pub const RESULTS_DIR: &str = "/results";

/// Everything the manifests say.
#[derive(Debug, Clone)]
pub struct K8sPlan {
    /// Names and labels every object: `gauntlet-<run id>-...`.
    pub run_id: String,
    pub namespace: Option<String>,
    /// An image with `gauntlet` on its `PATH`.
    pub image: String,
    pub shards: u32,
    /// The primary endpoint's URL, as the pods reach it.
    pub target: String,
    /// Other endpoints (`--endpoint NAME=URL`).
    pub endpoints: Vec<(String, String)>,
    /// The run's seed, the same for every shard.
    pub seed: u64,
    /// The profile's name and its file's text.
    pub profile: String,
    pub profile_text: String,
    pub slo_text: String,
    /// The project's `gauntlet.toml`, when there is one.
    pub project_config: Option<String>,
    /// The environment variables of the project's `[secrets]`.
    pub secret_variables: Vec<String>,
    /// `--users-per-shard`, passed on.
    pub users_per_shard: Option<u32>,
    /// The results claim's size and storage class (default class: none given).
    pub storage: String,
    pub storage_class: Option<String>,
    /// Bound on the generators' Job (the profile's length plus start-up).
    pub deadline_s: u64,
}

/// The rendered YAML: what to apply first, and the collector to apply
/// once the generators' Job is complete.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifests {
    pub load: String,
    pub merge: String,
}

impl K8sPlan {
    pub fn name(&self, what: &str) -> String {
        format!("gauntlet-{}-{what}", self.run_id)
    }

    fn labels(&self, component: &str) -> Value {
        json!({
            "app.kubernetes.io/name": "gauntlet",
            "app.kubernetes.io/component": component,
            "app.kubernetes.io/instance": self.name("load"),
            "dev.gauntlet.run": self.run_id,
            "dev.gauntlet.profile": self.profile,
        })
    }

    fn metadata(&self, what: &str, component: &str) -> Value {
        let mut m = json!({ "name": self.name(what), "labels": self.labels(component) });
        if let Some(ns) = &self.namespace {
            m["namespace"] = json!(ns);
        }
        m
    }

    /// `--config /config/gauntlet.toml` when the project has one.
    fn config_args(&self) -> Vec<String> {
        match self.project_config {
            Some(_) => vec!["--config".into(), format!("{CONFIG_DIR}/gauntlet.toml")],
            None => Vec::new(),
        }
    }

    /// The generator's arguments (after `gauntlet`).
    pub fn generator_args(&self) -> Vec<String> {
        let mut args = self.config_args();
        args.extend([
            "load".to_string(),
            "--profile".into(),
            format!("{CONFIG_DIR}/{}.toml", self.profile),
            "--shard".into(),
            format!("$(JOB_COMPLETION_INDEX)/{}", self.shards),
            "--target".into(),
            self.target.clone(),
            // The target is the cluster's service, named by whoever
            // rendered this: not loopback, so the guard is lifted.
            "--allow-remote".into(),
        ]);
        for (name, url) in &self.endpoints {
            args.extend(["--endpoint".into(), format!("{name}={url}")]);
        }
        args.extend([
            "--seed".into(),
            self.seed.to_string(),
            "--slo".into(),
            format!("{CONFIG_DIR}/slo.toml"),
            "--out".into(),
            format!("{RESULTS_DIR}/shard-$(JOB_COMPLETION_INDEX)"),
        ]);
        if let Some(u) = self.users_per_shard {
            args.extend(["--users-per-shard".into(), u.to_string()]);
        }
        args
    }

    /// The collector's arguments (after `gauntlet`).
    pub fn merge_args(&self) -> Vec<String> {
        let mut args = self.config_args();
        args.extend(["load".to_string(), "merge".into()]);
        args.extend((0..self.shards).map(|i| format!("{RESULTS_DIR}/shard-{i}")));
        args.extend([
            "--slo".into(),
            format!("{CONFIG_DIR}/slo.toml"),
            "--out".into(),
            format!("{RESULTS_DIR}/merged"),
        ]);
        args
    }

    fn config_map(&self) -> Value {
        let mut data = BTreeMap::new();
        data.insert(format!("{}.toml", self.profile), self.profile_text.clone());
        data.insert("slo.toml".to_string(), self.slo_text.clone());
        if let Some(c) = &self.project_config {
            data.insert("gauntlet.toml".to_string(), c.clone());
        }
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": self.metadata("config", "config"),
            "data": data,
        })
    }

    fn claim(&self) -> Value {
        let mut spec = json!({
            "accessModes": ["ReadWriteMany"],
            "resources": { "requests": { "storage": self.storage } },
        });
        if let Some(class) = &self.storage_class {
            spec["storageClassName"] = json!(class);
        }
        json!({
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": self.metadata("results", "results"),
            "spec": spec,
        })
    }

    fn volumes(&self) -> (Value, Value) {
        let mounts = json!([
            { "name": "config", "mountPath": CONFIG_DIR, "readOnly": true },
            { "name": "results", "mountPath": RESULTS_DIR },
        ]);
        let volumes = json!([
            { "name": "config", "configMap": { "name": self.name("config") } },
            { "name": "results", "persistentVolumeClaim": { "claimName": self.name("results") } },
        ]);
        (mounts, volumes)
    }

    fn generators(&self) -> Value {
        let mut env = vec![json!({
            "name": "JOB_COMPLETION_INDEX",
            "valueFrom": { "fieldRef": {
                "fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']"
            } },
        })];
        env.extend(self.secret_variables.iter().map(|v| {
            json!({
                "name": v,
                "valueFrom": { "secretKeyRef": { "name": SECRET_NAME, "key": v, "optional": true } },
            })
        }));
        let (mounts, volumes) = self.volumes();
        let labels = self.labels("load-generator");
        json!({
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": self.metadata("load", "load-generator"),
            "spec": {
                "completionMode": "Indexed",
                "completions": self.shards,
                "parallelism": self.shards,
                // A generator that dies is started again once (same
                // index); a run that keeps failing stops.
                "backoffLimit": 1,
                "activeDeadlineSeconds": self.deadline_s,
                "template": {
                    "metadata": { "labels": labels },
                    "spec": {
                        "restartPolicy": "Never",
                        // One generator per node where the cluster can:
                        // the point is more machines than one.
                        "affinity": { "podAntiAffinity": {
                            "preferredDuringSchedulingIgnoredDuringExecution": [{
                                "weight": 100,
                                "podAffinityTerm": {
                                    "topologyKey": "kubernetes.io/hostname",
                                    "labelSelector": { "matchLabels": {
                                        "dev.gauntlet.run": self.run_id,
                                        "app.kubernetes.io/component": "load-generator",
                                    } },
                                },
                            }],
                        } },
                        "containers": [{
                            "name": "gauntlet",
                            "image": self.image,
                            "command": ["gauntlet"],
                            "args": self.generator_args(),
                            "env": env,
                            "volumeMounts": mounts,
                        }],
                        "volumes": volumes,
                    },
                },
            },
        })
    }

    fn collector(&self) -> Value {
        let (mounts, volumes) = self.volumes();
        json!({
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": self.metadata("merge", "merge"),
            "spec": {
                // Exit 1 is the verdict (an SLO breach), not a failure to
                // retry.
                "backoffLimit": 0,
                "template": {
                    "metadata": { "labels": self.labels("merge") },
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [{
                            "name": "gauntlet",
                            "image": self.image,
                            "command": ["gauntlet"],
                            "args": self.merge_args(),
                            "volumeMounts": mounts,
                        }],
                        "volumes": volumes,
                    },
                },
            },
        })
    }

    /// The objects, in the order they are applied.
    pub fn documents(&self) -> Vec<Value> {
        vec![
            self.config_map(),
            self.claim(),
            self.generators(),
            self.collector(),
        ]
    }

    pub fn render(&self) -> Manifests {
        let ns = self
            .namespace
            .as_deref()
            .map(|n| format!(" -n {n}"))
            .unwrap_or_default();
        let [config, claim, generators, collector] =
            <[Value; 4]>::try_from(self.documents()).expect("four documents");
        let load = format!(
            "# gauntlet load, profile `{profile}`, run {run}: {n} load generators\n\
             # (an Indexed Job, pod I runs shard I/{n}), seed {seed} for all of them,\n\
             # against {target}.\n\
             # Apply: kubectl apply{ns} -f load.yaml\n\
             # The generators read the project's [secrets] variables from the\n\
             # Secret `{SECRET_NAME}` (each optional).\n\
             ---\n{}---\n{}---\n{}",
            yaml(&config),
            yaml(&claim),
            yaml(&generators),
            profile = self.profile,
            run = self.run_id,
            n = self.shards,
            seed = self.seed,
            target = self.target,
        );
        let merge = format!(
            "# The collector: merges the {n} shards' results into {RESULTS_DIR}/merged\n\
             # (load.json, shard.json, summary.md) and judges the SLOs (exit 1, so the\n\
             # Job fails, on a breach). Apply it once the generators' Job is complete,\n\
             # when every shard.json is written:\n\
             #   kubectl wait{ns} --for=condition=complete job/{job} --timeout={wait}s\n\
             #   kubectl apply{ns} -f merge.yaml\n\
             ---\n{}",
            yaml(&collector),
            n = self.shards,
            job = self.name("load"),
            wait = self.deadline_s,
        );
        Manifests { load, merge }
    }
}

/// YAML with Kubernetes' usual key order (`apiVersion`, `kind`,
/// `metadata`, `name` first), the rest alphabetical.
fn yaml(v: &Value) -> String {
    serde_yaml::to_string(&ordered(v)).expect("a JSON value is YAML")
}

fn ordered(v: &Value) -> serde_yaml::Value {
    const FIRST: [&str; 6] = [
        "apiVersion",
        "kind",
        "metadata",
        "name",
        "namespace",
        "labels",
    ];
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by_key(|k| {
                (
                    FIRST.iter().position(|f| f == k).unwrap_or(FIRST.len()),
                    k.as_str(),
                )
            });
            let mut out = serde_yaml::Mapping::new();
            for k in keys {
                out.insert(serde_yaml::Value::String(k.clone()), ordered(&map[k]));
            }
            serde_yaml::Value::Mapping(out)
        }
        Value::Array(items) => serde_yaml::Value::Sequence(items.iter().map(ordered).collect()),
        other => serde_yaml::to_value(other).expect("a JSON scalar is YAML"),
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::batch::v1::Job;
    use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim};
    use serde::de::DeserializeOwned;
    use serde::{Deserialize, Serialize};

    use super::*;

    fn plan() -> K8sPlan {
        K8sPlan {
            run_id: "rk8sab".into(),
            namespace: Some("load".into()),
            image: "registry.invalid/gauntlet:1".into(),
            shards: 4,
            target: "http://shop-api.shop.svc:8080".into(),
            endpoints: vec![("web".into(), "http://shop-web.shop.svc:8081".into())],
            seed: 1234,
            profile: "tier-100k".into(),
            profile_text: "shards = 4\nusers = 100\n".into(),
            slo_text: "[global]\np95 = \"500ms\"\n".into(),
            project_config: Some("[system]\nname = \"x\"\n".into()),
            secret_variables: vec!["GAUNTLET_SHOPIFY_SECRET".into()],
            users_per_shard: None,
            storage: "1Gi".into(),
            storage_class: Some("nfs".into()),
            deadline_s: 1500,
        }
    }

    /// `doc` is a `T` of the real schema: it deserializes, and serializing
    /// the typed value gives the document back (k8s-openapi ignores
    /// unknown fields, so a misspelt one shows up as a difference).
    fn schema_checked<T: DeserializeOwned + Serialize>(doc: &Value) -> T {
        let typed: T = serde_json::from_value(doc.clone()).unwrap_or_else(|e| panic!("{e}\n{doc}"));
        let again = serde_json::to_value(&typed).unwrap();
        assert_eq!(
            &again, doc,
            "the typed value differs from the rendered document"
        );
        typed
    }

    /// The YAML documents of a rendered file, as `kubectl` reads them.
    fn documents(text: &str) -> Vec<Value> {
        serde_yaml::Deserializer::from_str(text)
            .map(|doc| Value::deserialize(doc).unwrap_or_else(|e| panic!("{e}\n{text}")))
            .collect()
    }

    #[test]
    fn manifests_match_the_kubernetes_schema() {
        let m = plan().render();
        let docs = documents(&m.load);
        assert_eq!(docs.len(), 3, "{}", m.load);
        let config: ConfigMap = schema_checked(&docs[0]);
        let claim: PersistentVolumeClaim = schema_checked(&docs[1]);
        let job: Job = schema_checked(&docs[2]);
        let merge = documents(&m.merge);
        assert_eq!(merge.len(), 1);
        let collector: Job = schema_checked(&merge[0]);

        let data = config.data.unwrap();
        assert_eq!(
            data.keys().collect::<Vec<_>>(),
            ["gauntlet.toml", "slo.toml", "tier-100k.toml"]
        );
        assert_eq!(data["tier-100k.toml"], "shards = 4\nusers = 100\n");

        let claim = claim.spec.unwrap();
        assert_eq!(claim.access_modes.unwrap(), ["ReadWriteMany"]);
        assert_eq!(claim.storage_class_name.as_deref(), Some("nfs"));

        let spec = job.spec.unwrap();
        assert_eq!(spec.completion_mode.as_deref(), Some("Indexed"));
        assert_eq!((spec.completions, spec.parallelism), (Some(4), Some(4)));
        assert_eq!(spec.backoff_limit, Some(1));
        let pod = spec.template.spec.unwrap();
        assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
        let c = &pod.containers[0];
        let args = c.args.clone().unwrap().join(" ");
        assert_eq!(
            args,
            "--config /config/gauntlet.toml load --profile /config/tier-100k.toml \
             --shard $(JOB_COMPLETION_INDEX)/4 --target http://shop-api.shop.svc:8080 --allow-remote \
             --endpoint web=http://shop-web.shop.svc:8081 --seed 1234 --slo /config/slo.toml \
             --out /results/shard-$(JOB_COMPLETION_INDEX)"
        );
        // `$(JOB_COMPLETION_INDEX)` expands: the container declares it.
        let env = c.env.clone().unwrap();
        let index = env
            .iter()
            .find(|e| e.name == "JOB_COMPLETION_INDEX")
            .unwrap();
        assert_eq!(
            index
                .value_from
                .as_ref()
                .unwrap()
                .field_ref
                .as_ref()
                .unwrap()
                .field_path,
            "metadata.annotations['batch.kubernetes.io/job-completion-index']"
        );
        let secret = env
            .iter()
            .find(|e| e.name == "GAUNTLET_SHOPIFY_SECRET")
            .unwrap();
        let key = secret
            .value_from
            .as_ref()
            .unwrap()
            .secret_key_ref
            .as_ref()
            .unwrap();
        assert_eq!((key.name.as_str(), key.optional), (SECRET_NAME, Some(true)));
        assert!(
            !m.load.contains("hunter") && !args.contains("SECRET"),
            "no secret value on the command line"
        );

        let merge_args = collector.spec.unwrap().template.spec.unwrap().containers[0]
            .args
            .clone()
            .unwrap()
            .join(" ");
        assert_eq!(
            merge_args,
            "--config /config/gauntlet.toml load merge /results/shard-0 /results/shard-1 \
             /results/shard-2 /results/shard-3 --slo /config/slo.toml --out /results/merged"
        );
        assert!(m.merge.contains(
            "kubectl wait -n load --for=condition=complete job/gauntlet-rk8sab-load --timeout=1500s"
        ));
        assert!(m.load.contains("seed 1234 for all of them"));
    }

    #[test]
    fn every_object_is_labelled_with_the_run() {
        let p = plan();
        for doc in p.documents() {
            let labels = &doc["metadata"]["labels"];
            assert_eq!(labels["app.kubernetes.io/name"], "gauntlet", "{doc}");
            assert_eq!(labels["dev.gauntlet.run"], "rk8sab", "{doc}");
            assert!(labels["app.kubernetes.io/component"].is_string(), "{doc}");
            assert_eq!(doc["metadata"]["namespace"], "load");
            if doc["kind"] == "Job" {
                let pod = &doc["spec"]["template"]["metadata"]["labels"];
                assert_eq!(pod["dev.gauntlet.run"], "rk8sab", "{doc}");
            }
        }
    }

    #[test]
    fn a_project_without_file_namespace_or_class_renders_without_them() {
        let mut p = plan();
        p.project_config = None;
        p.namespace = None;
        p.storage_class = None;
        p.users_per_shard = Some(50);
        p.shards = 2;
        let m = p.render();
        let docs = documents(&m.load);
        let config: ConfigMap = schema_checked(&docs[0]);
        assert!(!config.data.unwrap().contains_key("gauntlet.toml"));
        let claim: PersistentVolumeClaim = schema_checked(&docs[1]);
        assert!(claim.metadata.namespace.is_none());
        assert!(claim.spec.unwrap().storage_class_name.is_none());
        let job: Job = schema_checked(&docs[2]);
        let args = job.spec.unwrap().template.spec.unwrap().containers[0]
            .args
            .clone()
            .unwrap();
        assert_eq!(args[0], "load");
        assert!(args.ends_with(&["--users-per-shard".to_string(), "50".to_string()]));
        assert!(m.merge.contains("kubectl wait --for=condition=complete"));
    }

    #[test]
    fn a_misspelt_field_is_caught_by_the_round_trip() {
        let m = plan().render();
        let text = m.load.replace("completionMode:", "completionMod:");
        let doc = documents(&text)[2].clone();
        let result = std::panic::catch_unwind(|| schema_checked::<Job>(&doc));
        assert!(result.is_err(), "an unknown field must not pass");
        // The documents as rendered are what the generators' tests build on.
        assert_eq!(documents(&m.load), plan().documents()[..3].to_vec());
    }
}
