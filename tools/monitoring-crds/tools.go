//go:build tools

// Package tools pins what the tests use to make the Prometheus Operator's
// CRDs (ServiceMonitor, PrometheusRule) from their upstream Go types:
// controller-gen, and the monitoring.coreos.com/v1 API package it reads.
// See test/support/monitoring-crds.ts.
package tools

import (
	_ "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	_ "sigs.k8s.io/controller-tools/cmd/controller-gen"
)
