{{/*
One component of the platform: its Deployment and, when it listens on a port, its Service,
PodDisruptionBudget, HorizontalPodAutoscaler and NetworkPolicy. Every service is built the same
way, so probes, security context, settings and scraping cannot drift apart.

Parameters (a dict):
  root        the chart's root context ($)
  component   short name: ingest, detector, shop-frontend, ...
  values      the component's values (image aside)
  image       the image values (repository, tag, digest)
  args        arguments to the images' entrypoint, `aiops`
  port        the port the service listens on; none for a component that serves nothing
  secretEnv   Secret keys to pass as environment variables: [{name, optional}]
  env         computed environment variables (dict); the component's `env` values win
  public      whether clients from outside the release may connect (NetworkPolicy)
  clientsFrom NetworkPolicy peers allowed as such clients; empty: anyone
*/}}
{{- define "aiops.workload" -}}
{{- $root := .root -}}
{{- $values := .values -}}
{{- $name := printf "%s-%s" (include "aiops.fullname" $root) .component -}}
{{- $labelArgs := dict "root" $root "component" .component -}}
{{- $autoscaling := and .port $values.autoscaling $values.autoscaling.enabled -}}
{{- $env := merge (deepCopy ($values.env | default dict)) (.env | default dict) -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $name }}
  labels:
    {{- include "aiops.componentLabels" $labelArgs | nindent 4 }}
spec:
  {{- if not $autoscaling }}
  replicas: {{ $values.replicas | default 1 }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "aiops.selectorLabels" $labelArgs | nindent 6 }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      # Keep every serving replica until its successor is ready.
      maxUnavailable: 0
      maxSurge: 1
  template:
    metadata:
      labels:
        {{- include "aiops.componentLabels" $labelArgs | nindent 8 }}
        {{- with $values.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        # Settings are read once at start-up: roll the pods when they change.
        checksum/config: {{ include (print $root.Template.BasePath "/configmap.yaml") $root | sha256sum }}
        {{- if not $root.Values.secrets.existingSecret }}
        checksum/secret: {{ include (print $root.Template.BasePath "/secret.yaml") $root | sha256sum }}
        {{- end }}
        {{- if and .port $root.Values.metrics.podAnnotations }}
        prometheus.io/scrape: "true"
        prometheus.io/port: {{ .port | quote }}
        prometheus.io/path: /metrics
        {{- end }}
        {{- with $values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "aiops.serviceAccountName" $root }}
      automountServiceAccountToken: false
      # Service links would put variables such as AIOPS_INGEST_PORT into every pod, among the
      # AIOPS_* variables that settings are read from. Services are found through DNS instead.
      enableServiceLinks: false
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- toYaml $root.Values.podSecurityContext | nindent 8 }}
      terminationGracePeriodSeconds: {{ $root.Values.terminationGracePeriodSeconds }}
      containers:
        - name: {{ .component }}
          image: {{ include "aiops.image" (dict "root" $root "image" .image) }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          args:
            {{- toYaml .args | nindent 12 }}
          {{- if .port }}
          ports:
            - name: http
              containerPort: {{ .port }}
              protocol: TCP
          {{- end }}
          envFrom:
            - configMapRef:
                name: {{ include "aiops.fullname" $root }}-config
          {{- if or .secretEnv $env }}
          env:
            {{- range .secretEnv }}
            - name: {{ .name }}
              valueFrom:
                secretKeyRef:
                  name: {{ include "aiops.secretName" $root }}
                  key: {{ .name }}
                  {{- if .optional }}
                  optional: true
                  {{- end }}
            {{- end }}
            {{- range $key, $value := $env }}
            - name: {{ $key }}
              value: {{ include "aiops.envValue" $value }}
            {{- end }}
          {{- end }}
          {{- if .port }}
          # A service listens only once it has reached its dependencies, which it retries for
          # AIOPS_STARTUP_TIMEOUT_S (60 s by default): give it that and a margin before liveness counts.
          startupProbe:
            httpGet:
              path: /livez
              port: http
            periodSeconds: 2
            failureThreshold: {{ add (div (int ($root.Values.config.AIOPS_STARTUP_TIMEOUT_S | default 60)) 2) 15 }}
          livenessProbe:
            httpGet:
              path: /livez
              port: http
            periodSeconds: 10
            timeoutSeconds: 3
            failureThreshold: 3
          # /readyz pings the service's dependencies (2 s each): a replica that cannot reach one
          # takes no traffic, and its answer names the dependency that is down.
          readinessProbe:
            httpGet:
              path: /readyz
              port: http
            periodSeconds: 5
            timeoutSeconds: 3
            failureThreshold: 2
          lifecycle:
            preStop:
              exec:
                command: ["sleep", "{{ $root.Values.preStopSleepSeconds }}"]
          {{- end }}
          resources:
            {{- toYaml $values.resources | nindent 12 }}
          securityContext:
            {{- toYaml $root.Values.containerSecurityContext | nindent 12 }}
          volumeMounts:
            {{- include "aiops.tmpVolumeMount" $root | nindent 12 }}
      volumes:
        {{- include "aiops.tmpVolume" $root | nindent 8 }}
      {{- with $values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $values.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $values.topologySpreadConstraints }}
      topologySpreadConstraints:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- if .port }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ $name }}
  labels:
    {{- include "aiops.componentLabels" $labelArgs | nindent 4 }}
  {{- with $values.service.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  type: {{ $values.service.type }}
  selector:
    {{- include "aiops.selectorLabels" $labelArgs | nindent 4 }}
  ports:
    - name: http
      port: {{ $values.service.port }}
      targetPort: http
      protocol: TCP
{{- end }}
{{- if and .port $values.pdb.enabled }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ $name }}
  labels:
    {{- include "aiops.componentLabels" $labelArgs | nindent 4 }}
spec:
  maxUnavailable: {{ $values.pdb.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "aiops.selectorLabels" $labelArgs | nindent 6 }}
{{- end }}
{{- if $autoscaling }}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ $name }}
  labels:
    {{- include "aiops.componentLabels" $labelArgs | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ $name }}
  minReplicas: {{ $values.autoscaling.minReplicas }}
  maxReplicas: {{ $values.autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $values.autoscaling.targetCPUUtilizationPercentage }}
    {{- with $values.autoscaling.queueDepth }}
    {{- if .enabled }}
    - type: External
      external:
        metric:
          name: {{ .metricName }}
          selector:
            matchLabels:
              {{- toYaml .selector | nindent 14 }}
        target:
          type: AverageValue
          averageValue: {{ .averageValue | quote }}
    {{- end }}
    {{- end }}
  {{- with $values.autoscaling.behavior }}
  behavior:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
{{- if and .port $root.Values.networkPolicy.enabled }}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ $name }}
  labels:
    {{- include "aiops.componentLabels" $labelArgs | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "aiops.selectorLabels" $labelArgs | nindent 6 }}
  policyTypes: [Ingress]
  ingress:
    # The release's own pods (the shop calls ingest and its backends) and the metrics scrapers.
    - from:
        - podSelector:
            matchLabels:
              app.kubernetes.io/instance: {{ $root.Release.Name }}
        {{- with $root.Values.networkPolicy.metricsFrom }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      ports:
        - port: http
          protocol: TCP
    {{- if .public }}
    - ports:
        - port: http
          protocol: TCP
      {{- with .clientsFrom }}
      from:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    {{- end }}
{{- end }}
{{- end }}
