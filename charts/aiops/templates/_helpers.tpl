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
