// Package e2e holds Berth's end-to-end tests: they run the built berth
// binary (BERTH_BIN, or one built by TestMain) as a real process and drive
// it with the real kubectl compiled into it.
package e2e
