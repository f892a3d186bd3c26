package bench

import (
	"errors"
	"flag"
	"io"
	"slices"
	"strings"
	"testing"
)

func TestParseClients(t *testing.T) {
	tests := []struct {
		in      string
		want    []int
		wantErr string
	}{
		{"1,16,64", []int{1, 16, 64}, ""},
		{" 4 , 2 ", []int{4, 2}, ""},
		{"8", []int{8}, ""},
		{"", nil, "empty entry"},
		{"1,,2", nil, "empty entry"},
		{"0", nil, "not a positive integer"},
		{"-4", nil, "not a positive integer"},
		{"two", nil, "not a positive integer"},
		{"1.5", nil, "not a positive integer"},
		{"4,4", nil, "listed twice"},
	}
	for _, tt := range tests {
		got, err := ParseClients(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseClients(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("ParseClients(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseAPIArgs(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string // substring; "" means success
	}{
		{"defaults", nil, ""},
		{"small", []string{"--clients", "1,4", "--ops", "40", "--list-objects", "200"}, ""},
		{"no big list", []string{"--list-objects", "0"}, ""},
		{"bad clients", []string{"--clients", "1,x"}, "--clients"},
		{"zero clients", []string{"--clients", "0"}, "--clients"},
		{"zero ops", []string{"--ops", "0"}, "--ops"},
		{"ops below clients", []string{"--clients", "8", "--ops", "4"}, "--ops"},
		{"negative list", []string{"--list-objects", "-1"}, "--list-objects"},
		{"server without kubeconfig", []string{"--server", "https://127.0.0.1:6443"}, "--kubeconfig"},
		{"bad server URL", []string{"--server", "127.0.0.1:6443", "--kubeconfig", "x"}, "--server"},
		{"missing kubeconfig", []string{"--kubeconfig", "/nonexistent/kubeconfig"}, "--kubeconfig"},
		{"stray argument", []string{"extra"}, "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseAPIArgs(tt.args, io.Discard)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want one naming %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseAPIArgsDefaults(t *testing.T) {
	cfg, err := ParseAPIArgs(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.Clients, DefaultClients) || cfg.Ops != DefaultOps || cfg.ListObjects != DefaultListObjects || cfg.external() {
		t.Fatalf("defaults: got %+v", cfg)
	}
	if _, err := ParseAPIArgs([]string{"-h"}, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: got %v, want flag.ErrHelp", err)
	}
}
