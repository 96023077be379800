package websocketsink

// entryList is an intrusive doubly linked list of entries. An entry is in at
// most one list at a time (the send queue or the in-flight list), so removal
// from wherever it sits is O(1) and costs no allocation.
type entryList struct {
	head, tail *entry
	len        int
}

// pushBack appends e, which must not be in a list.
func (l *entryList) pushBack(e *entry) {
	e.list, e.prev, e.next = l, l.tail, nil
	if l.tail != nil {
		l.tail.next = e
	} else {
		l.head = e
	}
	l.tail = e
	l.len++
}

// pushFront prepends e, which must not be in a list.
func (l *entryList) pushFront(e *entry) {
	e.list, e.prev, e.next = l, nil, l.head
	if l.head != nil {
		l.head.prev = e
	} else {
		l.tail = e
	}
	l.head = e
	l.len++
}

// popFront removes and returns the first entry, or nil when l is empty.
func (l *entryList) popFront() *entry {
	e := l.head
	if e != nil {
		e.unlink()
	}
	return e
}

// unlink removes e from the list it is in, if any.
func (e *entry) unlink() {
	l := e.list
	if l == nil {
		return
	}
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		l.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		l.tail = e.prev
	}
	e.list, e.prev, e.next = nil, nil, nil
	l.len--
}
