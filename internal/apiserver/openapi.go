package apiserver

import (
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The OpenAPI v3 documents are deliberately small: for every resource a
// PATCH operation tagged with its group/version/kind and a fieldValidation
// query parameter. That is what kubectl looks for before it relies on
// server-side field validation (cli-runtime's query parameter verifier).
// Schemas are not published yet, so `kubectl explain` has nothing to show.
// /openapi/v2 answers 404, which kubectl tolerates.

func (s *Server) serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimSuffix(r.URL.Path, "/")
	if path == "/openapi/v3" {
		paths := map[string]map[string]string{}
		for _, g := range s.groups {
			for _, v := range g.versions {
				gv := schema.GroupVersion{Group: g.group, Version: v}
				rel := gvPath(gv)
				doc, _ := json.Marshal(s.openAPIDoc(gv))
				sum := sha512.Sum512(doc)
				paths[rel] = map[string]string{"serverRelativeURL": "/openapi/v3/" + rel + "?hash=" + strings.ToUpper(hex.EncodeToString(sum[:]))}
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"paths": paths})
		return
	}
	rel := strings.TrimPrefix(path, "/openapi/v3/")
	for _, g := range s.groups {
		for _, v := range g.versions {
			gv := schema.GroupVersion{Group: g.group, Version: v}
			if gvPath(gv) == rel {
				w.Header().Set("Cache-Control", "public, immutable")
				writeJSON(w, http.StatusOK, s.openAPIDoc(gv))
				return
			}
		}
	}
	s.writeError(w, r, apierrors.NewNotFound(schema.GroupResource{}, r.URL.Path))
}

func gvPath(gv schema.GroupVersion) string {
	if gv.Group == "" {
		return "api/" + gv.Version
	}
	return "apis/" + gv.Group + "/" + gv.Version
}

func (s *Server) openAPIDoc(gv schema.GroupVersion) map[string]any {
	paths := map[string]any{}
	params := []map[string]any{
		{"name": "fieldValidation", "in": "query", "schema": map[string]string{"type": "string"}, "description": "Strict, Warn or Ignore: how unknown and duplicate fields are treated."},
		{"name": "dryRun", "in": "query", "schema": map[string]string{"type": "string"}},
		{"name": "fieldManager", "in": "query", "schema": map[string]string{"type": "string"}},
	}
	body := map[string]any{"content": map[string]any{
		"application/json-patch+json":  map[string]any{"schema": map[string]any{"type": "object"}},
		"application/merge-patch+json": map[string]any{"schema": map[string]any{"type": "object"}},
	}}
	for _, res := range s.cfg.Resources {
		if res.GroupVersion != gv {
			continue
		}
		p := "/" + gvPath(gv) + "/"
		if res.Namespaced {
			p += "namespaces/{namespace}/"
		}
		p += res.Resource + "/{name}"
		gvk := map[string]string{"group": gv.Group, "version": gv.Version, "kind": res.Kind}
		paths[p] = map[string]any{
			"patch": map[string]any{
				"operationId":                     "patch" + res.Kind,
				"x-kubernetes-action":             "patch",
				"x-kubernetes-group-version-kind": gvk,
				"parameters":                      params,
				"requestBody":                     body,
				"responses":                       map[string]any{"200": map[string]any{"description": "OK"}},
			},
		}
	}
	return map[string]any{
		"openapi":    "3.0.0",
		"info":       map[string]string{"title": "Berth", "version": s.cfg.Version},
		"paths":      paths,
		"components": map[string]any{"schemas": map[string]any{}},
	}
}
