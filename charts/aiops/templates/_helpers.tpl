{{/* Names, labels and small shared pieces. */}}

{{- define "aiops.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name prefix of every resource: the release name, plus the chart name unless the release
name already contains it ("aiops" -> "aiops", "prod" -> "prod-aiops").
*/}}
{{- define "aiops.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "aiops.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every resource. */}}
{{- define "aiops.labels" -}}
helm.sh/chart: {{ include "aiops.chart" . }}
app.kubernetes.io/name: {{ include "aiops.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: aiops
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Labels that select one component's pods: (dict "root" $ "component" "ingest"). */}}
{{- define "aiops.selectorLabels" -}}
app.kubernetes.io/name: {{ include "aiops.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Labels of one component's resources: (dict "root" $ "component" "ingest"). */}}
{{- define "aiops.componentLabels" -}}
{{ include "aiops.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Image reference: (dict "root" $ "image" .Values.ingest.image). A digest wins over a tag. */}}
{{- define "aiops.image" -}}
{{- $registry := .root.Values.image.registry | trimSuffix "/" }}
{{- $repository := ternary .image.repository (printf "%s/%s" $registry .image.repository) (empty $registry) }}
{{- if .image.digest }}
{{- printf "%s@%s" $repository .image.digest }}
{{- else }}
{{- printf "%s:%s" $repository (.image.tag | default .root.Values.image.tag | default .root.Chart.AppVersion) }}
{{- end }}
{{- end }}

{{- define "aiops.secretName" -}}
{{- .Values.secrets.existingSecret | default (printf "%s-secrets" (include "aiops.fullname" .)) }}
{{- end }}

{{- define "aiops.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- .Values.serviceAccount.name | default (include "aiops.fullname" .) }}
{{- else }}
{{- .Values.serviceAccount.name | default "default" }}
{{- end }}
{{- end }}

{{/* Base URL of one component's Service inside the namespace: (dict "root" $ "component" "ingest" "port" 4318). */}}
{{- define "aiops.serviceUrl" -}}
{{- printf "http://%s-%s:%v" (include "aiops.fullname" .root) .component .port }}
{{- end }}

{{/* The /tmp emptyDir and the container security context every container gets. */}}
{{- define "aiops.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpSizeLimit }}
{{- end }}

{{- define "aiops.tmpVolumeMount" -}}
- name: tmp
  mountPath: /tmp
{{- end }}

{{/* Environment of services that use the store: they leave migrations to the job when it runs. */}}
{{- define "aiops.migrationEnv" -}}
{{- if .Values.migrations.job.enabled }}
AIOPS_MIGRATE_ON_START: "false"
{{- end }}
{{- end }}

{{/*
An environment variable's value as a quoted string. Helm reads numbers in values as floats, and
`toString` would write 1000000 as "1e+06", which an integer setting refuses: whole numbers are
written as integers.
*/}}
{{- define "aiops.envValue" -}}
{{- if and (kindIs "float64" .) (eq . (floor .)) }}
{{- . | int64 | toString | quote }}
{{- else }}
{{- . | toString | quote }}
{{- end }}
{{- end }}

{{/* Labels of one alert: (dict "severity" "warning" "rules" .Values.prometheusRule). */}}
{{- define "aiops.alertLabels" -}}
{{ toYaml (merge (dict "severity" .severity) .rules.additionalAlertLabels) }}
{{- end }}

{{/*
The platform's components that this release deploys, in order, as YAML {components: [...]}; the
templates of each kind (deployment.yaml, service.yaml, pdb.yaml, hpa.yaml, networkpolicy.yaml)
range over them, so that probes, security context, settings and scraping cannot drift apart.
Each component:
  name        short name: ingest, detector, shop-frontend, ...
  path        where its values are under .Values: [ingest], [demoShop, frontend]
  image       its image reference
  args        arguments to the images' entrypoint, `aiops`
  port        the port it listens on; none for a component that serves nothing (no Service,
              PodDisruptionBudget, HorizontalPodAutoscaler, NetworkPolicy or probes)
  secretEnv   Secret keys passed as environment variables: [{name, optional}]
  env         computed environment variables; the component's own `env` values win
  public      whether clients from outside the release may connect (NetworkPolicy)
  clientsFrom the key under networkPolicy of the peers allowed as such clients; none: anyone
*/}}
{{- define "aiops.components" -}}
{{- $components := list }}
{{- $components = append $components (dict
  "name" "ingest"
  "path" (list "ingest")
  "image" (include "aiops.image" (dict "root" . "image" .Values.ingest.image))
  "args" (list "serve" "ingest" "--port" "4318")
  "port" 4318
  "grpcPort" 4317
  "env" (dict "AIOPS_INGEST_GRPC_PORT" "4317")
  "secretEnv" (list
    (dict "name" "AIOPS_BROKER_URL")
    (dict "name" "AIOPS_REDIS_URL")
    (dict "name" "AIOPS_INGEST_TOKENS" "optional" true))
  "public" true
  "clientsFrom" "ingestFrom") }}
{{- $components = append $components (dict
  "name" "detector"
  "path" (list "detector")
  "image" (include "aiops.image" (dict "root" . "image" .Values.detector.image))
  "args" (list "serve" "detector" "--port" "8001")
  "port" 8001
  "secretEnv" (list (dict "name" "AIOPS_DATABASE_URL") (dict "name" "AIOPS_BROKER_URL") (dict "name" "AIOPS_REDIS_URL"))
  "env" (include "aiops.migrationEnv" . | fromYaml)) }}
{{- $shop := .Values.demoShop }}
{{- if .Values.incidents.enabled }}
{{- $env := include "aiops.migrationEnv" . | fromYaml }}
{{- if $shop.enabled }}
{{- /* The web UI's fault panel breaks and mends the release's own demo shop. */}}
{{- $urls := list }}
{{- range $component := list "frontend" "payment" "inventory" }}
{{- $url := include "aiops.serviceUrl" (dict "root" $ "component" (printf "shop-%s" $component) "port" (get $shop $component).service.port) }}
{{- $urls = append $urls (printf "%s=%s" $component $url) }}
{{- end }}
{{- $_ := set $env "AIOPS_DEMO_SHOP_URLS" (join "," $urls) }}
{{- end }}
{{- $components = append $components (dict
  "name" "incidents"
  "path" (list "incidents")
  "image" (include "aiops.image" (dict "root" . "image" .Values.incidents.image))
  "args" (list "serve" "incidents" "--port" "8000")
  "port" 8000
  "secretEnv" (list
    (dict "name" "AIOPS_DATABASE_URL")
    (dict "name" "AIOPS_BROKER_URL")
    (dict "name" "AIOPS_REDIS_URL")
    (dict "name" "AIOPS_API_TOKENS" "optional" true)
    (dict "name" "AIOPS_WEBHOOK_URLS" "optional" true))
  "env" $env
  "public" true
  "clientsFrom" "incidentsFrom") }}
{{- end }}
{{- if $shop.enabled }}
{{- $image := include "aiops.image" (dict "root" . "image" $shop.image) }}
{{- $ingest := include "aiops.serviceUrl" (dict "root" . "component" "ingest" "port" .Values.ingest.service.port) }}
{{- /* The shop's apps send their traces to ingest; OTEL_EXPORTER_OTLP_HEADERS carries a token when ingest wants one. */}}
{{- $otlp := list (dict "name" "OTEL_EXPORTER_OTLP_HEADERS" "optional" true) }}
{{- $components = append $components (dict
  "name" "shop-frontend"
  "path" (list "demoShop" "frontend")
  "image" $image
  "args" (list "serve" "shop-frontend" "--port" "8080")
  "port" 8080
  "secretEnv" $otlp
  "env" (dict
    "OTEL_EXPORTER_OTLP_ENDPOINT" $ingest
    "AIOPS_SHOP_PAYMENT_URL" (include "aiops.serviceUrl" (dict "root" . "component" "shop-payment" "port" $shop.payment.service.port))
    "AIOPS_SHOP_INVENTORY_URL" (include "aiops.serviceUrl" (dict "root" . "component" "shop-inventory" "port" $shop.inventory.service.port)))
  "public" true) }}
{{- $components = append $components (dict
  "name" "shop-payment"
  "path" (list "demoShop" "payment")
  "image" $image
  "args" (list "serve" "shop-payment" "--port" "8081")
  "port" 8081
  "secretEnv" $otlp
  "env" (dict "OTEL_EXPORTER_OTLP_ENDPOINT" $ingest)) }}
{{- $components = append $components (dict
  "name" "shop-inventory"
  "path" (list "demoShop" "inventory")
  "image" $image
  "args" (list "serve" "shop-inventory" "--port" "8082")
  "port" 8082
  "secretEnv" $otlp
  "env" (dict "OTEL_EXPORTER_OTLP_ENDPOINT" $ingest)) }}
{{- if $shop.loadgen.enabled }}
{{- $frontend := include "aiops.serviceUrl" (dict "root" . "component" "shop-frontend" "port" $shop.frontend.service.port) }}
{{- $components = append $components (dict
  "name" "shop-loadgen"
  "path" (list "demoShop" "loadgen")
  "image" $image
  "args" (list "loadgen" "--rps" ($shop.loadgen.rps | toString) "--duration" "0" "--url" $frontend)) }}
{{- end }}
{{- end }}
{{- toYaml (dict "components" $components) }}
{{- end }}

{{/* Name of one component's resources: (dict "root" $ "component" $component). */}}
{{- define "aiops.componentName" -}}
{{- printf "%s-%s" (include "aiops.fullname" .root) .component.name }}
{{- end }}

{{/* Whether a HorizontalPodAutoscaler owns the component's replicas: "true" or empty. */}}
{{- define "aiops.autoscaled" -}}
{{- $values := .values }}
{{- if and .component.port $values.autoscaling $values.autoscaling.enabled }}true{{- end }}
{{- end }}
