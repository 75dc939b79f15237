// Command memberlist-bench runs N hashicorp/memberlist nodes in one Go process, each on its own
// UDP + TCP ports on 127.0.0.1 (ephemeral), with DefaultLANConfig, and measures what
// bench/membership.ts measures for Cairn, on the same definitions:
//
//   - join_ms: from the first Join call (every node but the seed joins the seed at once) until
//     every node lists all N members alive;
//   - update_ms: one node changes its metadata (NodeMeta, then UpdateNode) until every other node
//     has had NotifyUpdate with the new metadata;
//   - detect_ms: one node shuts down without leaving until every other node has had NotifyLeave
//     with the node in StateDead (memberlist reports deaths through NotifyLeave);
//   - leave: one node calls Leave then Shutdown (what a node does on SIGTERM); each other node
//     counts as `left` or `dead` by the state of its NotifyLeave.
//
// Times are event arrival times: every event delegate call wakes the waiting phase, which checks
// its condition (no polling interval). Rounds, medians and pauses are those of the TypeScript
// bench. It prints one JSON line on stdout. Built and run by bench/_memberlist.ts in GOPATH mode
// against the Debian packages (golang-github-hashicorp-memberlist-dev and its dependencies).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"hash/fnv"
	"io/ioutil"
	"math/rand"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	metrics "github.com/armon/go-metrics"
	"github.com/hashicorp/memberlist"
)

// wake is signalled (without blocking) after every observed event.
var wake = make(chan struct{}, 1)

func poke() {
	select {
	case wake <- struct{}{}:
	default:
	}
}

// observer records what one node's event delegate reported, and when.
type observer struct {
	mu         sync.Mutex
	total      int
	alive      map[string]bool
	allAliveAt time.Time
	updateAt   map[string]time.Time // by name + "/" + metadata
	leftAt     map[string]time.Time
	deadAt     map[string]time.Time
}

func newObserver(self string, total int) *observer {
	return &observer{
		total:    total,
		alive:    map[string]bool{self: true},
		updateAt: map[string]time.Time{},
		leftAt:   map[string]time.Time{},
		deadAt:   map[string]time.Time{},
	}
}

func (o *observer) NotifyJoin(n *memberlist.Node) {
	o.mu.Lock()
	o.alive[n.Name] = true
	if o.allAliveAt.IsZero() && len(o.alive) == o.total {
		o.allAliveAt = time.Now()
	}
	o.mu.Unlock()
	poke()
}

// nodeStateLayout mirrors memberlist's private nodeState (state.go, 0.2.2): an embedded Node,
// then Incarnation, State and StateChange. NotifyLeave is given &state.Node, the address of that
// struct, and in 0.2.2 only nodeState.State says dead or left (Node.State, which shadows it, is
// never set). Read under memberlist's node lock, which is held while the delegate runs.
type nodeStateLayout struct {
	memberlist.Node
	Incarnation uint32
	State       memberlist.NodeStateType
	StateChange time.Time
}

// leaveState is dead or left for a NotifyLeave: Node.State where memberlist sets it (later
// versions), else the enclosing nodeState's.
func leaveState(n *memberlist.Node) memberlist.NodeStateType {
	if n.State == memberlist.StateDead || n.State == memberlist.StateLeft {
		return n.State
	}
	return (*nodeStateLayout)(unsafe.Pointer(n)).State
}

// unknownLeaves counts NotifyLeave calls whose state read neither dead nor left: not 0 means the
// layout above does not match the memberlist built against, and the leave figures are void.
var unknownLeaves int64

func (o *observer) NotifyLeave(n *memberlist.Node) {
	now := time.Now()
	state := leaveState(n)
	o.mu.Lock()
	delete(o.alive, n.Name)
	switch state {
	case memberlist.StateLeft:
		o.leftAt[n.Name] = now
	case memberlist.StateDead:
		o.deadAt[n.Name] = now
	default:
		atomic.AddInt64(&unknownLeaves, 1)
	}
	o.mu.Unlock()
	poke()
}

func (o *observer) NotifyUpdate(n *memberlist.Node) {
	now := time.Now()
	key := n.Name + "/" + string(n.Meta)
	o.mu.Lock()
	if _, seen := o.updateAt[key]; !seen {
		o.updateAt[key] = now
	}
	o.mu.Unlock()
	poke()
}

// at reads one arrival time under the lock (zero when none).
func (o *observer) at(table func(*observer) map[string]time.Time, key string) time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	return table(o)[key]
}

// metaDelegate serves the node's metadata; everything else is unused.
type metaDelegate struct {
	mu   sync.Mutex
	meta []byte
}

func (d *metaDelegate) NodeMeta(limit int) []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.meta
}

func (d *metaDelegate) set(meta string) {
	d.mu.Lock()
	d.meta = []byte(meta)
	d.mu.Unlock()
}

func (d *metaDelegate) NotifyMsg([]byte)                           {}
func (d *metaDelegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (d *metaDelegate) LocalState(join bool) []byte                { return nil }
func (d *metaDelegate) MergeRemoteState(buf []byte, join bool)     {}

// trafficSink counts what memberlist reports sending (its memberlist.udp.sent and .tcp.sent
// counters carry the bytes of each packet or stream message); other metrics are dropped.
type trafficSink struct {
	udpBytes, udpPackets, tcpBytes int64
}

func (s *trafficSink) IncrCounter(key []string, val float32) {
	if len(key) < 3 || key[len(key)-1] != "sent" {
		return
	}
	switch strings.Join(key[len(key)-3:len(key)-1], ".") {
	case "memberlist.udp":
		atomic.AddInt64(&s.udpBytes, int64(val))
		atomic.AddInt64(&s.udpPackets, 1)
	case "memberlist.tcp":
		atomic.AddInt64(&s.tcpBytes, int64(val))
	}
}

func (s *trafficSink) IncrCounterWithLabels(key []string, val float32, _ []metrics.Label) {
	s.IncrCounter(key, val)
}
func (s *trafficSink) SetGauge([]string, float32)                             {}
func (s *trafficSink) SetGaugeWithLabels([]string, float32, []metrics.Label)  {}
func (s *trafficSink) EmitKey([]string, float32)                              {}
func (s *trafficSink) AddSample([]string, float32)                            {}
func (s *trafficSink) AddSampleWithLabels([]string, float32, []metrics.Label) {}

type node struct {
	index    int
	name     string
	list     *memberlist.Memberlist
	observer *observer
	meta     *metaDelegate
	running  bool
}

type spread struct {
	First *float64 `json:"first"`
	P50   *float64 `json:"p50"`
	Last  *float64 `json:"last"`
}

type phaseCost struct {
	WallMs             float64 `json:"wall_ms"`
	CPUMs              float64 `json:"cpu_ms"`
	CPUCores           float64 `json:"cpu_cores"`
	CPUMsPerNodePerS   float64 `json:"cpu_ms_per_node_per_s"`
	BytesPerNodePerS   float64 `json:"bytes_per_node_per_s"`
	PacketsPerNodePerS float64 `json:"packets_per_node_per_s"`
}

type meter struct {
	sink    *trafficSink
	start   time.Time
	cpu     time.Duration
	bytes   int64
	packets int64
}

func cpuTime() time.Duration {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		return 0
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}

func (m *meter) begin() {
	m.start = time.Now()
	m.cpu = cpuTime()
	m.bytes = atomic.LoadInt64(&m.sink.udpBytes) + atomic.LoadInt64(&m.sink.tcpBytes)
	m.packets = atomic.LoadInt64(&m.sink.udpPackets)
}

func (m *meter) end(running int) phaseCost {
	wall := time.Since(m.start)
	cpu := cpuTime() - m.cpu
	bytes := atomic.LoadInt64(&m.sink.udpBytes) + atomic.LoadInt64(&m.sink.tcpBytes) - m.bytes
	packets := atomic.LoadInt64(&m.sink.udpPackets) - m.packets
	nodeSeconds := float64(running) * wall.Seconds()
	if nodeSeconds <= 0 {
		nodeSeconds = 1
	}
	wallMs := ms(wall)
	return phaseCost{
		WallMs:             round(wallMs, 0),
		CPUMs:              round(ms(cpu), 0),
		CPUCores:           round(ms(cpu)/maxFloat(wallMs, 1), 2),
		CPUMsPerNodePerS:   round(ms(cpu)/nodeSeconds, 2),
		BytesPerNodePerS:   round(float64(bytes)/nodeSeconds, 0),
		PacketsPerNodePerS: round(float64(packets)/nodeSeconds, 1),
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func maxFloat(a, b float64) float64 {
	if a > b {
		return a
	}
	return b
}

func round(x float64, digits int) float64 {
	f := 1.0
	for i := 0; i < digits; i++ {
		f *= 10
	}
	if x < 0 {
		return -float64(int64(-x*f+0.5)) / f
	}
	return float64(int64(x*f+0.5)) / f
}

// spreadOf gives first, median and last arrival after t0 (nil when nothing arrived).
func spreadOf(times []time.Time, t0 time.Time) spread {
	if len(times) == 0 {
		return spread{}
	}
	d := make([]float64, len(times))
	for i, t := range times {
		d[i] = round(ms(t.Sub(t0)), 0)
	}
	sort.Float64s(d)
	return spread{First: &d[0], P50: &d[(len(d)-1)/2], Last: &d[len(d)-1]}
}

// median of the rounds' figures, nil when any round has none (as the TypeScript bench).
func median(xs []*float64) *float64 {
	d := make([]float64, 0, len(xs))
	for _, x := range xs {
		if x == nil {
			return nil
		}
		d = append(d, *x)
	}
	if len(d) == 0 {
		return nil
	}
	sort.Float64s(d)
	mid := len(d) / 2
	m := d[mid]
	if len(d)%2 == 0 {
		m = round((d[mid-1]+d[mid])/2, 0)
	}
	return &m
}

// waitFor returns true once done() holds (checked after every event), false at the deadline.
func waitFor(done func() bool, timeout time.Duration) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		if done() {
			return true
		}
		select {
		case <-wake:
		case <-deadline.C:
			return done()
		}
	}
}

func running(nodes []*node) []*node {
	var out []*node
	for _, n := range nodes {
		if n.running {
			out = append(out, n)
		}
	}
	return out
}

func others(nodes []*node, not *node) []*node {
	var out []*node
	for _, n := range nodes {
		if n != not {
			out = append(out, n)
		}
	}
	return out
}

func updates(o *observer) map[string]time.Time { return o.updateAt }
func lefts(o *observer) map[string]time.Time   { return o.leftAt }
func deaths(o *observer) map[string]time.Time  { return o.deadAt }

// arrivals gives the arrival times at or after t0 of `key` in each observer's table.
func arrivals(nodes []*node, table func(*observer) map[string]time.Time, key string, t0 time.Time) []time.Time {
	var out []time.Time
	for _, n := range nodes {
		if t := n.observer.at(table, key); !t.IsZero() && !t.Before(t0) {
			out = append(out, t)
		}
	}
	return out
}

type updateRound struct {
	spread
	Complete bool `json:"complete"`
}

type detectRound struct {
	Nodes    int    `json:"nodes"`
	Complete bool   `json:"complete"`
	Dead     spread `json:"dead"`
}

type leaveRound struct {
	Nodes       int     `json:"nodes"`
	Complete    bool    `json:"complete"`
	SawLeft     int     `json:"saw_left"`
	SawDead     int     `json:"saw_dead"`
	SawNothing  int     `json:"saw_nothing"`
	Left        spread  `json:"left"`
	LeaveCallMs float64 `json:"leave_call_ms"`
	LeaveError  string  `json:"leave_error,omitempty"`
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "memberlist bench: "+format+"\n", args...)
	os.Exit(2)
}

func logf(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}

func main() {
	nodesFlag := flag.Int("nodes", 64, "nodes in the cluster (3..1024)")
	roundsFlag := flag.Int("rounds", 1, "update, detect and leave rounds")
	seed := flag.String("seed", "1", "seeds the choice of updaters, victims and leavers")
	timeoutMs := flag.Int("timeout-ms", 60000, "deadline of every wait")
	settleMs := flag.Int("settle-ms", 2000, "pause after the join before the steady window")
	steadyMs := flag.Int("steady-ms", 3000, "measured quiet window")
	leaveTimeoutMs := flag.Int("leave-timeout-ms", 2500, "Leave's timeout (Cairn's agent default)")
	flag.Parse()
	n, rounds := *nodesFlag, *roundsFlag
	if n < 4 || n > 1024 {
		fail("--nodes must be 4..1024, got %d", n)
	}
	if rounds < 1 || 3*rounds > n-1 {
		fail("--rounds must be 1..%d, got %d", (n-1)/3, rounds)
	}
	timeout := time.Duration(*timeoutMs) * time.Millisecond

	sink := &trafficSink{}
	mcfg := metrics.DefaultConfig("")
	mcfg.EnableHostname = false
	mcfg.EnableRuntimeMetrics = false
	if _, err := metrics.NewGlobal(mcfg, sink); err != nil {
		fail("metrics: %v", err)
	}

	lan := memberlist.DefaultLANConfig()
	loadBefore := loadAverage()
	setupStart := time.Now()
	nodes := make([]*node, n)
	for i := range nodes {
		cfg := memberlist.DefaultLANConfig()
		cfg.Name = fmt.Sprintf("n%d", i)
		cfg.BindAddr = "127.0.0.1"
		cfg.BindPort = 0
		cfg.AdvertisePort = 0
		cfg.LogOutput = ioutil.Discard
		obs := newObserver(cfg.Name, n)
		meta := &metaDelegate{}
		cfg.Events = obs
		cfg.Delegate = meta
		list, err := memberlist.Create(cfg)
		if err != nil {
			fail("node %d: %v", i, err)
		}
		nodes[i] = &node{index: i, name: cfg.Name, list: list, observer: obs, meta: meta, running: true}
	}
	setupMs := ms(time.Since(setupStart))
	logf("memberlist bench: %d nodes, DefaultLANConfig, seed %s, %d round(s), %s", n, *seed, rounds, runtime.Version())

	h := fnv.New64a()
	h.Write([]byte(*seed + "/bench"))
	rng := rand.New(rand.NewSource(int64(h.Sum64() >> 1)))
	perm := rng.Perm(n - 1)
	pick := func(k int) *node { return nodes[1+perm[k]] }
	var timedOut []string
	m := &meter{sink: sink}

	// ---- join ----
	seedNode := nodes[0]
	seedAddr := fmt.Sprintf("%s:%d", seedNode.list.LocalNode().Addr, seedNode.list.LocalNode().Port)
	var joinErrors int64
	m.begin()
	joinStart := time.Now()
	for _, x := range nodes[1:] {
		go func(x *node) {
			if _, err := x.list.Join([]string{seedAddr}); err != nil {
				atomic.AddInt64(&joinErrors, 1)
			}
		}(x)
	}
	allAlive := func() bool {
		for _, x := range nodes {
			x.observer.mu.Lock()
			ok := !x.observer.allAliveAt.IsZero()
			x.observer.mu.Unlock()
			if !ok {
				return false
			}
		}
		return true
	}
	joined := waitFor(allAlive, timeout)
	joinCost := m.end(n)
	if !joined {
		timedOut = append(timedOut, "join")
	}
	var joinAt []time.Time
	// Nodes that did not list every member alive by the deadline: how many their events listed,
	// and, as a check of the observer, how many memberlist itself counts (NumMembers).
	joinIncomplete := map[string][2]int{}
	for _, x := range nodes {
		// NumMembers takes memberlist's node lock, under which the delegate takes the observer's:
		// never call it holding the observer's lock.
		members := x.list.NumMembers()
		x.observer.mu.Lock()
		if !x.observer.allAliveAt.IsZero() {
			joinAt = append(joinAt, x.observer.allAliveAt)
		} else {
			joinIncomplete[x.name] = [2]int{len(x.observer.alive), members}
		}
		x.observer.mu.Unlock()
	}
	join := spreadOf(joinAt, joinStart)
	var joinMs *float64
	if joined {
		joinMs = join.Last
	}
	logf("join: %v ms (%d/%d nodes saw all %d alive)", deref(joinMs), len(joinAt), n, n)

	// ---- steady ----
	time.Sleep(time.Duration(*settleMs) * time.Millisecond)
	m.begin()
	time.Sleep(time.Duration(*steadyMs) * time.Millisecond)
	steady := m.end(n)

	// ---- update ----
	var updateRounds []updateRound
	var updateFigures []*float64
	m.begin()
	for r := 0; r < rounds; r++ {
		if r > 0 {
			time.Sleep(500 * time.Millisecond)
		}
		updater := pick(r)
		value := fmt.Sprintf("value-%s-%d", *seed, r)
		key := updater.name + "/" + value
		rest := others(nodes, updater)
		start := time.Now()
		updater.meta.set(value)
		go updater.list.UpdateNode(timeout)
		complete := waitFor(func() bool {
			return len(arrivals(rest, updates, key, start)) == len(rest)
		}, timeout)
		at := arrivals(rest, updates, key, start)
		s := spreadOf(at, start)
		updateRounds = append(updateRounds, updateRound{spread: s, Complete: complete})
		if complete {
			updateFigures = append(updateFigures, s.Last)
		} else {
			updateFigures = append(updateFigures, nil)
			timedOut = appendOnce(timedOut, "update")
		}
		logf("update %d: %v ms (%d/%d nodes)", r, deref(s.Last), len(at), len(rest))
	}
	updateCost := m.end(n)
	time.Sleep(time.Duration(minInt(*settleMs, 1000)) * time.Millisecond)

	// ---- detect ----
	var detectRounds []detectRound
	var detectFigures []*float64
	m.begin()
	for r := 0; r < rounds; r++ {
		if r > 0 {
			time.Sleep(time.Second)
		}
		victim := pick(rounds + r)
		survivors := others(running(nodes), victim)
		start := time.Now()
		victim.running = false
		victim.list.Shutdown()
		complete := waitFor(func() bool {
			return len(arrivals(survivors, deaths, victim.name, start)) == len(survivors)
		}, timeout)
		s := spreadOf(arrivals(survivors, deaths, victim.name, start), start)
		detectRounds = append(detectRounds, detectRound{Nodes: len(survivors) + 1, Complete: complete, Dead: s})
		if complete {
			detectFigures = append(detectFigures, s.Last)
		} else {
			detectFigures = append(detectFigures, nil)
			timedOut = appendOnce(timedOut, "detect")
		}
		logf("detect %d: %v ms (%d/%d nodes; first death at %v ms)", r, deref(s.Last),
			len(arrivals(survivors, deaths, victim.name, start)), len(survivors), deref(s.First))
	}
	detectCost := m.end(len(running(nodes)))

	// ---- leave ----
	var leaveRounds []leaveRound
	m.begin()
	for r := 0; r < rounds; r++ {
		time.Sleep(time.Second)
		leaver := pick(2*rounds + r)
		survivors := others(running(nodes), leaver)
		start := time.Now()
		leaver.running = false
		leaveErr := leaver.list.Leave(time.Duration(*leaveTimeoutMs) * time.Millisecond)
		leaveCallMs := round(ms(time.Since(start)), 0)
		leaver.list.Shutdown()
		seen := func() int {
			return len(arrivals(survivors, lefts, leaver.name, start)) +
				len(arrivals(survivors, deaths, leaver.name, start))
		}
		complete := waitFor(func() bool { return seen() >= len(survivors) }, timeout)
		lr := leaveRound{Nodes: len(survivors) + 1, Complete: complete, LeaveCallMs: leaveCallMs}
		for _, x := range survivors {
			left := x.observer.at(lefts, leaver.name)
			dead := x.observer.at(deaths, leaver.name)
			switch {
			case !dead.IsZero() && !dead.Before(start) && (left.IsZero() || dead.Before(left)):
				lr.SawDead++
			case !left.IsZero() && !left.Before(start):
				lr.SawLeft++
			default:
				lr.SawNothing++
			}
		}
		lr.Left = spreadOf(arrivals(survivors, lefts, leaver.name, start), start)
		if leaveErr != nil {
			lr.LeaveError = leaveErr.Error()
		}
		if !complete {
			timedOut = appendOnce(timedOut, "leave")
		}
		leaveRounds = append(leaveRounds, lr)
		logf("leave %d: %d left, %d dead, %d saw nothing of %d", r, lr.SawLeft, lr.SawDead, lr.SawNothing, len(survivors))
	}
	leaveCost := m.end(len(running(nodes)))

	for _, x := range running(nodes) {
		x.running = false
		x.list.Shutdown()
	}
	allLeft := 0
	for _, l := range leaveRounds {
		if l.SawLeft == l.Nodes-1 {
			allLeft++
		}
	}
	out := map[string]interface{}{
		"tool":                         "hashicorp/memberlist",
		"go":                           runtime.Version(),
		"go_max_procs":                 runtime.GOMAXPROCS(0),
		"nodes":                        n,
		"rounds":                       rounds,
		"seed":                         *seed,
		"transport":                    "memberlist NetTransport (UDP + TCP, 127.0.0.1), one per node, one process",
		"join_ms":                      joinMs,
		"update_ms":                    median(updateFigures),
		"detect_ms":                    median(detectFigures),
		"update_ms_rounds":             updateFigures,
		"detect_ms_rounds":             detectFigures,
		"leave_all_left_rounds":        allLeft,
		"leave_rounds":                 leaveRounds,
		"bytes_per_node_per_s":         steady.BytesPerNodePerS,
		"packets_per_node_per_s":       steady.PacketsPerNodePerS,
		"cpu_ms_per_node_per_s_steady": steady.CPUMsPerNodePerS,
		"timed_out":                    nonNil(timedOut),
		"load_avg_1m_before":           loadBefore,
		"config":                       configOf(lan),
		"detail": map[string]interface{}{
			"setup_ms":                               round(setupMs, 0),
			"join_errors":                            joinErrors,
			"join_spread_ms":                         join,
			"join_incomplete_events_and_num_members": joinIncomplete,
			"update_spread_ms":                       updateRounds,
			"detect_spread_ms":                       detectRounds,
		},
		"cost": map[string]phaseCost{
			"join": joinCost, "steady": steady, "update": updateCost, "detect": detectCost, "leave": leaveCost,
		},
	}
	line, err := json.Marshal(out)
	if err != nil {
		fail("json: %v", err)
	}
	fmt.Println(string(line))
}

// configOf lists the constants that set the measured figures, in Cairn's names and units.
func configOf(c *memberlist.Config) map[string]interface{} {
	return map[string]interface{}{
		"probeIntervalMs":         ms(c.ProbeInterval),
		"probeTimeoutMs":          ms(c.ProbeTimeout),
		"indirectChecks":          c.IndirectChecks,
		"suspicionMult":           c.SuspicionMult,
		"suspicionMaxTimeoutMult": c.SuspicionMaxTimeoutMult,
		"retransmitMult":          c.RetransmitMult,
		"gossipIntervalMs":        ms(c.GossipInterval),
		"gossipNodes":             c.GossipNodes,
		"gossipToTheDeadMs":       ms(c.GossipToTheDeadTime),
		"awarenessMaxMultiplier":  c.AwarenessMaxMultiplier,
		"tcpFallback":             !c.DisableTcpPings,
		"mtu":                     c.UDPBufferSize,
		"pushPullIntervalMs":      ms(c.PushPullInterval),
		"tcpTimeoutMs":            ms(c.TCPTimeout),
		"compression":             c.EnableCompression,
	}
}

func loadAverage() float64 {
	b, err := ioutil.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	var one float64
	if _, err := fmt.Sscanf(string(b), "%f", &one); err != nil {
		return -1
	}
	return one
}

func deref(x *float64) interface{} {
	if x == nil {
		return "timed out"
	}
	return *x
}

func appendOnce(xs []string, x string) []string {
	for _, y := range xs {
		if y == x {
			return xs
		}
	}
	return append(xs, x)
}

func nonNil(xs []string) []string {
	if xs == nil {
		return []string{}
	}
	return xs
}

func minInt(a, b int) int {
	if a < b {
		return a
	}
	return b
}
