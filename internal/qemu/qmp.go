package qemu

import (
	"encoding/json"
	"fmt"
	"net"
	"time"
)

// qmpTimeout bounds each QMP exchange: QEMU answers at once unless it is
// wedged, and then waiting longer does not help.
const qmpTimeout = 10 * time.Second

// qmpClient is the least of the QEMU Machine Protocol this package needs:
// the greeting, capability negotiation, and commands without arguments.
type qmpClient struct {
	conn net.Conn
	dec  *json.Decoder
	path string
}

// qmpMessage is any message QEMU sends; exactly one field is set.
type qmpMessage struct {
	Greeting *json.RawMessage `json:"QMP"`
	Return   *json.RawMessage `json:"return"`
	Event    string           `json:"event"`
	Error    *struct {
		Class string `json:"class"`
		Desc  string `json:"desc"`
	} `json:"error"`
}

// dialQMP connects to QEMU's QMP socket and leaves it ready for commands.
func dialQMP(path string) (*qmpClient, error) {
	conn, err := net.DialTimeout("unix", path, qmpTimeout)
	if err != nil {
		return nil, err
	}
	q := &qmpClient{conn: conn, dec: json.NewDecoder(conn), path: path}
	var greeting qmpMessage
	if err := q.read(&greeting); err != nil {
		conn.Close()
		return nil, fmt.Errorf("QMP %s: reading the greeting: %w", path, err)
	}
	if greeting.Greeting == nil {
		conn.Close()
		return nil, fmt.Errorf("QMP %s: the first message is not a QMP greeting", path)
	}
	if err := q.execute("qmp_capabilities"); err != nil {
		conn.Close()
		return nil, err
	}
	return q, nil
}

func (q *qmpClient) read(m *qmpMessage) error {
	if err := q.conn.SetReadDeadline(time.Now().Add(qmpTimeout)); err != nil {
		return err
	}
	return q.dec.Decode(m)
}

// execute runs a command and waits for its answer, skipping the events QEMU
// sends in between.
func (q *qmpClient) execute(command string) error {
	if err := q.conn.SetWriteDeadline(time.Now().Add(qmpTimeout)); err != nil {
		return err
	}
	request, err := json.Marshal(map[string]string{"execute": command})
	if err != nil {
		return err
	}
	if _, err := q.conn.Write(append(request, '\n')); err != nil {
		return fmt.Errorf("QMP %s: sending %s: %w", q.path, command, err)
	}
	for {
		var m qmpMessage
		if err := q.read(&m); err != nil {
			return fmt.Errorf("QMP %s: waiting for the answer to %s: %w", q.path, command, err)
		}
		switch {
		case m.Error != nil:
			return fmt.Errorf("QMP %s: %s failed: %s: %s", q.path, command, m.Error.Class, m.Error.Desc)
		case m.Return != nil:
			return nil
		}
	}
}

func (q *qmpClient) Close() error { return q.conn.Close() }
