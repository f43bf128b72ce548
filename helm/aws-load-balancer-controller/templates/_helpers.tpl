{{/* The chart's name, or nameOverride. */}}
{{- define "aws-load-balancer-controller.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The fullname: the release name when it contains the chart's name, else release-chart. */}}
{{- define "aws-load-balancer-controller.fullname" -}}
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

{{- define "aws-load-balancer-controller.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "aws-load-balancer-controller.selectorLabels" -}}
app.kubernetes.io/name: {{ include "aws-load-balancer-controller.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "aws-load-balancer-controller.labels" -}}
{{ include "aws-load-balancer-controller.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
{{- if or (not .Values.creator) (eq (toString .Values.creator) "helm") }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ include "aws-load-balancer-controller.chart" . }}
{{- end }}
{{- with .Values.additionalLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "aws-load-balancer-controller.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "aws-load-balancer-controller.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* k=v,k2=v2 of a map, keys sorted. */}}
{{- define "aws-load-balancer-controller.convertMapToCsv" -}}
{{- $pairs := list }}
{{- range $key, $value := . }}
{{- $pairs = append $pairs (printf "%s=%v" $key $value) }}
{{- end }}
{{- join "," $pairs }}
{{- end }}

{{/*
Values upstream's chart renders as flags this controller does not have yet: setting one fails the
render with its name, rather than installing a controller that silently ignores it.
*/}}
{{- define "aws-load-balancer-controller.unsupported" -}}
{{- $unsupported := list "awsApiEndpoints" "serviceMaxConcurrentReconciles" "targetgroupbindingMaxConcurrentReconciles" "targetgroupbindingMaxExponentialBackoffDelay" "targetgroupbindingRequeueDuration" "albGatewayMaxConcurrentReconciles" "nlbGatewayMaxConcurrentReconciles" "globalAcceleratorMaxConcurrentReconciles" "globalAcceleratorMaxExponentialBackoffDelay" "lbStabilizationMonitorInterval" "watchNamespace" "disableIngressClassAnnotation" "disableIngressGroupNameAnnotation" "maxTargetsPerTargetGroup" }}
{{- range $unsupported }}
{{- $value := index $.Values . }}
{{- if or (kindIs "bool" $value) (and (not (kindIs "invalid" $value)) (not (empty $value))) }}
{{- fail (printf "value %s is not supported by this controller yet (see helm/README.md); remove it" .) }}
{{- end }}
{{- end }}
{{- if and (kindIs "bool" .Values.enableEndpointSlices) (not .Values.enableEndpointSlices) }}
{{- fail "enableEndpointSlices=false is not supported: this controller always reads EndpointSlices" }}
{{- end }}
{{- end }}

{{/* Upstream's prefix of the webhook objects: the chart name without "-controller" (or
nameOverride), at most 42 characters. */}}
{{- define "aws-load-balancer-controller.namePrefix" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 42 | trimSuffix "-controller" | trimSuffix "-" }}
{{- end }}

{{- define "aws-load-balancer-controller.webhookService" -}}
{{ include "aws-load-balancer-controller.namePrefix" . }}-webhook-service
{{- end }}

{{/* How the webhook certificate is made: certManager, provided (webhookTLS) or managed (by the
controller itself, the default). */}}
{{- define "aws-load-balancer-controller.webhookCertMode" -}}
{{- if .Values.enableCertManager }}certManager
{{- else if and .Values.webhookTLS.caCert .Values.webhookTLS.cert .Values.webhookTLS.key }}provided
{{- else }}managed
{{- end }}
{{- end }}

{{/* The Secret the controller keeps its own CA and serving certificate in (managed mode). */}}
{{- define "aws-load-balancer-controller.managedTlsSecret" -}}
{{ include "aws-load-balancer-controller.namePrefix" . }}-managed-tls
{{- end }}
