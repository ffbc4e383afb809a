#!/usr/bin/env python3
"""Consistency check of deploy/k8s/ without a cluster (no kubeconform or
kubectl in Debian 12): every document has apiVersion/kind/metadata.name;
kustomization resources exist; the Deployment's selector matches its pod
labels; every volumeMount has a volume; every ConfigMap, Secret and PVC a
volume names is defined (secret.yaml counts, being the template of the
Secret); the Service selects the Deployment's pods and targets a named
container port; probes use a declared port; the container runs as non-root
with a read-only root filesystem.

  python3 deploy/check-k8s.py deploy/k8s    # exit 0 if consistent, 1 if not
"""
import pathlib
import sys

import yaml


def main(folder):
    folder = pathlib.Path(folder)
    problems = []
    docs = []
    for path in sorted(folder.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc is None:
                continue
            docs.append((path.name, doc))
            if doc.get("kind") == "Kustomization":
                for res in doc.get("resources", []):
                    if not (folder / res).exists():
                        problems.append(f"{path.name}: resource {res} does not exist")
                continue
            for key in ("apiVersion", "kind"):
                if key not in doc:
                    problems.append(f"{path.name}: a document has no {key}")
            if not doc.get("metadata", {}).get("name"):
                problems.append(f"{path.name}: a {doc.get('kind')} has no metadata.name")

    def names(kind):
        return {d["metadata"]["name"] for _, d in docs if d.get("kind") == kind}

    deployments = [(f, d) for f, d in docs if d.get("kind") == "Deployment"]
    if not deployments:
        problems.append("no Deployment")
    for f, dep in deployments:
        spec = dep["spec"]
        pod = spec["template"]
        labels = pod["metadata"].get("labels", {})
        for k, v in spec["selector"]["matchLabels"].items():
            if labels.get(k) != v:
                problems.append(f"{f}: selector {k}={v} does not match the pod labels")
        pod_spec = pod["spec"]
        volumes = {v["name"]: v for v in pod_spec.get("volumes", [])}
        for v in volumes.values():
            if "configMap" in v and v["configMap"]["name"] not in names("ConfigMap"):
                problems.append(f"{f}: ConfigMap {v['configMap']['name']} is not defined")
            if "secret" in v and v["secret"]["secretName"] not in names("Secret"):
                problems.append(f"{f}: Secret {v['secret']['secretName']} is not defined")
            pvc = v.get("persistentVolumeClaim")
            if pvc and pvc["claimName"] not in names("PersistentVolumeClaim"):
                problems.append(f"{f}: PVC {pvc['claimName']} is not defined")
        sc = pod_spec.get("securityContext", {})
        if not sc.get("runAsNonRoot"):
            problems.append(f"{f}: pod securityContext.runAsNonRoot is not true")
        for c in pod_spec["containers"]:
            ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
            for m in c.get("volumeMounts", []):
                if m["name"] not in volumes:
                    problems.append(f"{f}: mount {m['mountPath']} uses undefined volume {m['name']}")
            csc = c.get("securityContext", {})
            if not csc.get("readOnlyRootFilesystem"):
                problems.append(f"{f}: container {c['name']} has a writable root filesystem")
            if csc.get("allowPrivilegeEscalation", True):
                problems.append(f"{f}: container {c['name']} allows privilege escalation")
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                p = c.get(probe)
                if p is None:
                    problems.append(f"{f}: container {c['name']} has no {probe}")
                    continue
                for kind in ("tcpSocket", "grpc", "httpGet"):
                    port = p.get(kind, {}).get("port")
                    if isinstance(port, str) and port not in ports:
                        problems.append(f"{f}: {probe} uses undeclared port {port}")
            for f2, svc in docs:
                if svc.get("kind") != "Service":
                    continue
                sel = svc["spec"].get("selector", {})
                if any(labels.get(k) != v for k, v in sel.items()):
                    problems.append(f"{f2}: the Service selector does not match {f}'s pods")
                for p in svc["spec"]["ports"]:
                    tp = p.get("targetPort")
                    if isinstance(tp, str) and tp not in ports:
                        problems.append(f"{f2}: targetPort {tp} is not a port of {c['name']}")
    for p in problems:
        print("FAIL", p)
    if not problems:
        print(f"ok   {len(docs)} documents in {folder} are consistent")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "deploy/k8s"))
