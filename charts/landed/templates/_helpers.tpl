{{/* Chart name, possibly overridden. */}}
{{- define "landed.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Resource name prefix: fullnameOverride, else the release name (+ "-landed" unless it
already contains the chart name). */}}
{{- define "landed.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "landed.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Labels on every object. */}}
{{- define "landed.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "landed.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: landed
{{- end -}}

{{/* Labels that select the webhook pods. */}}
{{- define "landed.selectorLabels" -}}
app.kubernetes.io/name: {{ include "landed.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The ServiceAccount the pods run as. */}}
{{- define "landed.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "landed.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The image reference: digest wins over tag; the tag defaults to appVersion. */}}
{{- define "landed.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The Secret holding tls.crt and tls.key. */}}
{{- define "landed.tlsSecretName" -}}
{{- if eq .Values.tls.mode "secret" -}}
{{- required "tls.secret.name is required with tls.mode=secret" .Values.tls.secret.name -}}
{{- else -}}
{{- printf "%s-tls" (include "landed.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* DNS names the API server may use to reach the Service (one per line). */}}
{{- define "landed.dnsNames" -}}
{{- $svc := include "landed.fullname" . -}}
{{- $ns := .Release.Namespace -}}
- {{ $svc }}
- {{ $svc }}.{{ $ns }}
- {{ $svc }}.{{ $ns }}.svc
- {{ $svc }}.{{ $ns }}.svc.{{ .Values.clusterDomain }}
{{- end -}}

{{/* Where the server reads its files. */}}
{{- define "landed.configDir" -}}/etc/landed{{- end -}}
{{- define "landed.tlsDir" -}}/tls{{- end -}}
{{- define "landed.dockerConfigDir" -}}/etc/landed-docker{{- end -}}
{{- define "landed.clientCaDir" -}}/etc/landed-client-ca{{- end -}}

{{/*
The kinds the server reviews, by API group: webhook/src/workload.rs WorkloadKind::ALL
with their subresources (`landed kinds` prints the same; the chart test compares the two).
*/}}
{{- define "landed.kinds" -}}
- group: ""
  resources: [pods, replicationcontrollers]
  subresources: [pods/ephemeralcontainers]
- group: apps
  resources: [deployments, statefulsets, daemonsets, replicasets]
  subresources: []
- group: batch
  resources: [jobs, cronjobs]
  subresources: []
{{- end -}}

{{/* Webhook rules: every kind and subresource above, CREATE and UPDATE. */}}
{{- define "landed.rules" -}}
{{- range (include "landed.kinds" . | fromYamlArray) }}
- apiGroups: [{{ .group | quote }}]
  apiVersions: ["v1"]
  operations: ["CREATE", "UPDATE"]
  resources:
    {{- range (concat .resources .subresources) }}
    - {{ . }}
    {{- end }}
  scope: Namespaced
{{- end }}
{{- end -}}

{{/* Namespaces the API server never sends: the excluded ones and the release namespace. */}}
{{- define "landed.excludedNamespaces" -}}
{{- $all := concat .Values.webhook.excludedNamespaces (list .Release.Namespace) | uniq -}}
{{- toYaml $all -}}
{{- end -}}

{{/* namespaceSelector shared by both webhooks. */}}
{{- define "landed.namespaceSelector" -}}
namespaceSelector:
  {{- with .Values.webhook.namespaceSelector.matchLabels }}
  matchLabels:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  matchExpressions:
    - key: kubernetes.io/metadata.name
      operator: NotIn
      values:
        {{- include "landed.excludedNamespaces" . | nindent 8 }}
    {{- with .Values.webhook.namespaceSelector.matchExpressions }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end -}}

{{/* matchConditions shared by both webhooks (left out before Kubernetes 1.28). */}}
{{- define "landed.matchConditions" -}}
{{- $mc := .Values.webhook.matchConditions -}}
{{- $bg := .Values.config.breakglass | default dict -}}
{{- $skipBreakglass := and $mc.skipBreakglass (ne (toString $bg.enabled) "false") -}}
{{- if and $mc.enabled (semverCompare ">=1.28.0-0" .Capabilities.KubeVersion.Version) (or $mc.skipNodes $skipBreakglass) }}
matchConditions:
  {{- if $mc.skipNodes }}
  - name: not-from-a-node
    expression: "!has(request.userInfo.groups) || !('system:nodes' in request.userInfo.groups)"
  {{- end }}
  {{- if $skipBreakglass }}
  {{- $key := default "landed.dev/breakglass" $bg.annotation | squote }}
  {{- $annotated := printf "has(object.metadata.annotations) && %s in object.metadata.annotations && object.metadata.annotations[%s].trim() != ''" $key $key }}
  {{- $permitted := printf "(has(request.userInfo.username) && request.userInfo.username in %s) || (has(request.userInfo.groups) && request.userInfo.groups.exists(g, g in %s))" (toJson ($bg.users | default list)) (toJson ($bg.groups | default list)) }}
  - name: no-permitted-breakglass
    expression: {{ printf "!(%s) || !(%s)" $annotated $permitted | quote }}
  {{- end }}
{{- end }}
{{- end -}}

{{/* The caBundle for tls.mode=secret. */}}
{{- define "landed.secretCaBundle" -}}
{{- required "tls.secret.caBundle (base64 PEM of the CA) is required with tls.mode=secret" .Values.tls.secret.caBundle -}}
{{- end -}}

{{/* Checks values that would only fail later, in the cluster or at server start. */}}
{{- define "landed.validate" -}}
{{- if not (has .Values.tls.mode (list "certManager" "selfSigned" "secret")) -}}
{{- fail (printf "tls.mode must be certManager, selfSigned or secret, got %q" .Values.tls.mode) -}}
{{- end -}}
{{- if not (has .Values.webhook.failurePolicy (list "Ignore" "Fail")) -}}
{{- fail "webhook.failurePolicy must be Ignore or Fail" -}}
{{- end -}}
{{- if not (has .Values.pinning.failurePolicy (list "Ignore" "Fail")) -}}
{{- fail "pinning.failurePolicy must be Ignore or Fail" -}}
{{- end -}}
{{- $t := int .Values.webhook.timeoutSeconds -}}
{{- if or (lt $t 1) (gt $t 30) -}}
{{- fail "webhook.timeoutSeconds must be between 1 and 30" -}}
{{- end -}}
{{- if ge (int .Values.shutdownGraceSeconds) (int .Values.terminationGracePeriodSeconds) -}}
{{- fail "shutdownGraceSeconds must be below terminationGracePeriodSeconds so in-flight reviews drain" -}}
{{- end -}}
{{- range $k := list "server" "excludedNamespaces" "dockerConfig" "audit" -}}
{{- if hasKey ($.Values.config | default dict) $k -}}
{{- fail (printf "config.%s is computed by the chart: set server values, webhook.excludedNamespaces, registryCredentials or audit instead" $k) -}}
{{- end -}}
{{- end -}}
{{- if and .Values.audit.policyReports (not .Values.audit.backgroundScan.interval) -}}
{{- fail "audit.policyReports needs audit.backgroundScan.interval: the background scan writes the reports" -}}
{{- end -}}
{{- if not (has .Values.audit.reports (list "openreports" "wgpolicyk8s")) -}}
{{- fail (printf "audit.reports must be openreports or wgpolicyk8s, not %q" (toString .Values.audit.reports)) -}}
{{- end -}}
{{- $ca := .Values.server.clientAuth -}}
{{- if and $ca.enabled (ne (len (compact (list $ca.caSecret $ca.caConfigMap))) 1) -}}
{{- fail "server.clientAuth.enabled needs exactly one of server.clientAuth.caSecret and server.clientAuth.caConfigMap (the CA that signs the API server's client certificate)" -}}
{{- end -}}
{{- if and $ca.enabled (not $ca.caKey) -}}
{{- fail "server.clientAuth.caKey must name the key holding the CA bundle" -}}
{{- end -}}
{{- $bg := .Values.config.breakglass | default dict -}}
{{- if and .Values.webhook.matchConditions.skipBreakglass (ne (toString $bg.enabled) "false") (not $bg.users) (not $bg.groups) -}}
{{- fail "webhook.matchConditions.skipBreakglass needs config.breakglass.groups or config.breakglass.users: the API server would skip landed, and every policy, for anyone who sets the annotation" -}}
{{- end -}}
{{- $np := .Values.networkPolicy -}}
{{- if and $np.enabled (not $np.ingress.from) -}}
{{- fail "networkPolicy.ingress.from is empty, which would let every source reach the webhook port: list the API server's sources, e.g. on GKE the control plane range (--master-ipv4-cidr; gcloud container clusters describe CLUSTER --format='value(privateClusterConfig.masterIpv4CidrBlock)') as an ipBlock, or set networkPolicy.enabled=false" -}}
{{- end -}}
{{- $eg := .Values.networkPolicy.egress -}}
{{- if and .Values.networkPolicy.enabled $eg.enabled (not $eg.dns) (not $eg.rules) -}}
{{- fail "networkPolicy.egress.enabled with neither dns nor rules would cut landed off from every registry: add networkPolicy.egress.rules" -}}
{{- end -}}
{{- $sm := .Values.metrics.serviceMonitor -}}
{{- if and $sm.enabled $ca.enabled (not $sm.clientCertificate) -}}
{{- fail "metrics.serviceMonitor with server.clientAuth.enabled needs metrics.serviceMonitor.clientCertificate (cert and keySecret signed by the client CA), or Prometheus is refused at the TLS handshake" -}}
{{- end -}}
{{- if and $sm.enabled (eq .Values.tls.mode "secret") (not $sm.ca) (not $sm.insecureSkipVerify) -}}
{{- fail "metrics.serviceMonitor with tls.mode=secret needs metrics.serviceMonitor.ca (the CA that signed your certificate) or insecureSkipVerify: true" -}}
{{- end -}}
{{- end -}}

{{/* "true" when the server lists workloads: `landed audit` (audit.enabled) or the background scan. */}}
{{- define "landed.listWorkloads" -}}
{{- if or .Values.audit.enabled .Values.audit.backgroundScan.interval -}}true{{- end -}}
{{- end -}}

{{/* "true" when the server talks to the Kubernetes API at all (RBAC and a mounted token). */}}
{{- define "landed.needsApi" -}}
{{- $a := .Values.audit -}}
{{- if or .Values.pullSecrets.enabled (include "landed.listWorkloads" .) $a.events $a.policyReports -}}true{{- end -}}
{{- end -}}

{{/* The API group and resource of the reports audit.reports names (RBAC). */}}
{{- define "landed.reportsApi" -}}
{{- if eq .Values.audit.reports "wgpolicyk8s" -}}
group: wgpolicyk8s.io
resource: policyreports
{{- else -}}
group: openreports.io
resource: reports
{{- end -}}
{{- end -}}

{{/* landed.yaml's `audit:` from the audit values; empty when every part is off. */}}
{{- define "landed.auditConfig" -}}
{{- $a := .Values.audit -}}
{{- $out := dict -}}
{{- if $a.events -}}{{- $_ := set $out "events" true -}}{{- end -}}
{{- if $a.backgroundScan.interval -}}{{- $_ := set $out "backgroundScan" (dict "interval" $a.backgroundScan.interval) -}}{{- end -}}
{{- if $a.policyReports -}}{{- $_ := set $out "policyReports" true -}}{{- $_ := set $out "reports" $a.reports -}}{{- end -}}
{{- if $out -}}{{- toYaml $out -}}{{- end -}}
{{- end -}}


{{/* landed.yaml's `server:`: what the chart wires, plus the limits that are set (the rest
keep the binary's defaults). */}}
{{- define "landed.serverConfig" -}}
{{- $server := dict
  "listen" (printf "%s:%d" .Values.listenHost (int .Values.containerPort))
  "tlsCertFile" (printf "%s/tls.crt" (include "landed.tlsDir" .))
  "tlsKeyFile" (printf "%s/tls.key" (include "landed.tlsDir" .))
  "certReloadInterval" .Values.tls.certReloadInterval
  "webhookTimeout" (printf "%ds" (int .Values.webhook.timeoutSeconds))
  "shutdownGrace" (printf "%ds" (int .Values.shutdownGraceSeconds))
-}}
{{- $limits := .Values.server.limits -}}
{{- range $k := list "tlsHandshakeTimeout" "headerReadTimeout" "idleTimeout" "http2IdleTimeout" "maxConnectionAge" "requestTimeout" -}}
{{- with index $limits $k -}}{{- $_ := set $server $k (toString .) -}}{{- end -}}
{{- end -}}
{{- range $k := list "maxConcurrentStreams" "maxConnections" -}}
{{- with index $limits $k -}}{{- $_ := set $server $k (int .) -}}{{- end -}}
{{- end -}}
{{- if .Values.server.clientAuth.enabled -}}
{{- $_ := set $server "clientCaFile" (printf "%s/%s" (include "landed.clientCaDir" .) .Values.server.clientAuth.caKey) -}}
{{- end -}}
{{- toYaml $server -}}
{{- end -}}
