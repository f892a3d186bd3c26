// Package queue holds the pods waiting to be scheduled. A Policy orders
// the pods ready to be tried (FCFS, SJF with aging, round-robin fair share,
// priority); SchedulingQueue adds the back-off and the set of unschedulable
// pods that wait for a relevant cluster change.
package queue
