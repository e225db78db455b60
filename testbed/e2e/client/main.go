// Command client is the e2e suite's HTTP client inside the cluster: run in a
// pod on the real node, it asks a URL once, or again and again for a while
// (or until its answers have held a string for long enough), and prints what it got as one line of JSON for the test to read from the
// pod's log.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// Report is what the client prints.
type Report struct {
	OK         int      `json:"ok"`
	Failed     int      `json:"failed"`
	Errors     []string `json:"errors,omitempty"`
	LastStatus int      `json:"lastStatus"`
	LastBody   string   `json:"lastBody"`
}

func main() {
	url := flag.String("url", "", "what to ask")
	tcp := flag.String("tcp", "", "instead of -url: only connect to this host:port (an answer is a connection made)")
	lookup := flag.String("lookup", "", "instead of -url: only look this name up (an answer is an address)")
	dnsServer := flag.String("dns", "", "with -lookup: ask this name server (host:port) instead of the pod's")
	dnsNet := flag.String("dnsnet", "udp", "with -dns: udp or tcp")
	delay := flag.Duration("delay", 0, "wait this long before the first request")
	token := flag.String("token", "", "a bearer token to send")
	duration := flag.Duration("for", 0, "keep asking for this long (0: once)")
	every := flag.Duration("every", 50*time.Millisecond, "pause between requests")
	until := flag.String("until", "", "with -for: stop early once every answer for -settle has held this")
	settle := flag.Duration("settle", 10*time.Second, "how long the answers must have held -until")
	grace := flag.Duration("grace", 0, "until the first answer, retry a connection that fails for this long without counting it "+
		"(a new pod's address reaches the network policy controller a moment after the pod starts)")
	flag.Parse()
	client := &http.Client{Timeout: 2 * time.Second}
	resolver := net.DefaultResolver
	if *dnsServer != "" {
		resolver = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, *dnsNet, *dnsServer)
		}}
	}
	time.Sleep(*delay)
	var r Report
	end := time.Now().Add(*duration)
	var holdingSince time.Time // since when every answer held -until
	start, answered := time.Now(), false
	for {
		var status int
		var body string
		var err error
		switch {
		case *tcp != "":
			status, body, err = connect(*tcp)
		case *lookup != "":
			status, body, err = resolve(resolver, *lookup)
		default:
			status, body, err = get(client, *url, *token)
		}
		if err != nil && !answered && time.Since(start) < *grace {
			time.Sleep(*every)
			continue
		}
		answered = answered || err == nil
		r.LastStatus, r.LastBody = status, body
		if err == nil && status != http.StatusOK {
			err = fmt.Errorf("status %d: %s", status, body)
		}
		if err != nil {
			r.Failed++
			if len(r.Errors) < 10 {
				r.Errors = append(r.Errors, time.Now().Format(time.RFC3339Nano)+" "+err.Error())
			}
		} else {
			r.OK++
		}
		switch {
		case *until == "" || err != nil || !strings.Contains(body, *until):
			holdingSince = time.Time{}
		case holdingSince.IsZero():
			holdingSince = time.Now()
		}
		if !time.Now().Before(end) || !holdingSince.IsZero() && time.Since(holdingSince) >= *settle {
			break
		}
		time.Sleep(*every)
	}
	_ = json.NewEncoder(os.Stdout).Encode(r)
}

func get(client *http.Client, url, token string) (int, string, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(body), err
}

// connect reports a TCP connection made as an answer (200).
func connect(address string) (int, string, error) {
	conn, err := net.DialTimeout("tcp", address, 2*time.Second)
	if err != nil {
		return 0, "", err
	}
	conn.Close()
	return http.StatusOK, "connected", nil
}

// resolve reports a name's addresses as an answer (200).
func resolve(resolver *net.Resolver, name string) (int, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	addresses, err := resolver.LookupHost(ctx, name)
	if err != nil {
		return 0, "", err
	}
	return http.StatusOK, strings.Join(addresses, ","), nil
}
