// Command lgb-immudb-probe is a tiny immudb client used by scripts/services
// (health check) and tests/services (login + set + get). It uses immudb's own
// Go SDK with session-based authentication and keeps the client's state and
// server-identity files in a temporary folder that it removes on exit, so,
// unlike immuclient, it writes nothing into $HOME.
//
// Usage:
//
//	lgb-immudb-probe [flags] health           open a session (real login) and ask the database health
//	lgb-immudb-probe [flags] set KEY VALUE    verified set; prints the transaction id
//	lgb-immudb-probe [flags] get KEY          verified get; prints the value
//	lgb-immudb-probe [flags] setget KEY VALUE verified set, then verified get; prints the value read back
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	immudb "github.com/codenotary/immudb/pkg/client"
)

func main() {
	addr := flag.String("addr", "127.0.0.1", "immudb gRPC host")
	port := flag.Int("port", 3322, "immudb gRPC port")
	user := flag.String("user", "immudb", "user name")
	password := flag.String("password", "immudb", "password")
	database := flag.String("database", "defaultdb", "database")
	timeout := flag.Duration("timeout", 10*time.Second, "overall deadline")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(),
			"usage: %s [flags] health | set KEY VALUE | get KEY | setget KEY VALUE\n", os.Args[0])
		flag.PrintDefaults()
	}
	flag.Parse()
	if err := run(*addr, *port, *user, *password, *database, *timeout, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "lgb-immudb-probe:", err)
		os.Exit(1)
	}
}

func run(addr string, port int, user, password, database string, timeout time.Duration, args []string) error {
	if len(args) == 0 {
		flag.Usage()
		return errors.New("missing command")
	}
	want := map[string]int{"health": 1, "set": 3, "get": 2, "setget": 3}
	n, ok := want[args[0]]
	if !ok || len(args) != n {
		flag.Usage()
		return fmt.Errorf("bad command line %q", args)
	}

	dir, err := os.MkdirTemp("", "lgb-immudb-probe.")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	opts := immudb.DefaultOptions().WithAddress(addr).WithPort(port).WithDir(dir)
	c := immudb.NewClient().WithOptions(opts)
	if err := c.OpenSession(ctx, []byte(user), []byte(password), database); err != nil {
		return fmt.Errorf("login to %s:%d as %s: %w", addr, port, user, err)
	}
	defer c.CloseSession(context.Background())

	switch args[0] {
	case "health":
		h, err := c.Health(ctx)
		if err != nil {
			return err
		}
		fmt.Printf("ok database=%s pending_requests=%d\n", database, h.PendingRequests)
	case "set":
		hdr, err := c.VerifiedSet(ctx, []byte(args[1]), []byte(args[2]))
		if err != nil {
			return err
		}
		fmt.Println(hdr.Id)
	case "get":
		e, err := c.VerifiedGet(ctx, []byte(args[1]))
		if err != nil {
			return err
		}
		fmt.Println(string(e.Value))
	case "setget":
		if _, err := c.VerifiedSet(ctx, []byte(args[1]), []byte(args[2])); err != nil {
			return err
		}
		e, err := c.VerifiedGet(ctx, []byte(args[1]))
		if err != nil {
			return err
		}
		fmt.Println(string(e.Value))
	}
	return nil
}
