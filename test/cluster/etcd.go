package main

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

// etcdStartTimeout bounds the wait for the embedded member to join its one-member cluster.
const etcdStartTimeout = 60 * time.Second

// runEtcd starts a one-member embedded etcd and serves until SIGTERM or SIGINT arrives or the
// server fails.
func runEtcd(args []string) error {
	flags := flag.NewFlagSet("etcd", flag.ContinueOnError)
	dataDir := flags.String("data-dir", "", "directory for the member's data (required)")
	clientURL := flags.String("listen-client-url", "http://127.0.0.1:2379", "URL that serves clients")
	peerURL := flags.String("listen-peer-url", "http://127.0.0.1:2380", "URL that serves peers")
	logLevel := flags.String("log-level", "warn", "zap log level: debug, info, warn or error")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if *dataDir == "" {
		return errors.New("--data-dir is missing: pass a directory for the member's data")
	}

	client, err := url.Parse(*clientURL)
	if err != nil {
		return fmt.Errorf("invalid --listen-client-url %q: %w", *clientURL, err)
	}
	peer, err := url.Parse(*peerURL)
	if err != nil {
		return fmt.Errorf("invalid --listen-peer-url %q: %w", *peerURL, err)
	}

	cfg := embed.NewConfig()
	cfg.Name = "testcluster"
	cfg.Dir = *dataDir
	cfg.LogLevel = *logLevel
	cfg.ListenClientUrls = []url.URL{*client}
	cfg.AdvertiseClientUrls = []url.URL{*client}
	cfg.ListenPeerUrls = []url.URL{*peer}
	cfg.AdvertisePeerUrls = []url.URL{*peer}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)

	server, err := embed.StartEtcd(cfg)
	if err != nil {
		return fmt.Errorf("start embedded etcd: %w", err)
	}
	defer server.Close()

	select {
	case <-server.Server.ReadyNotify():
	case <-time.After(etcdStartTimeout):
		return fmt.Errorf("embedded etcd was not ready after %s", etcdStartTimeout)
	}
	fmt.Fprintf(os.Stderr, "etcd is serving clients on %s\n", client)

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	select {
	case sig := <-signals:
		fmt.Fprintf(os.Stderr, "etcd received %s, stopping\n", sig)
		return nil
	case err := <-server.Err():
		return fmt.Errorf("embedded etcd failed: %w", err)
	}
}
