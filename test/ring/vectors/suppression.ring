# Notification hold-off: the consumer arms or moves the event index; a push notifies only when
# the event index lies in (old, new].
init
freq 1
fpushn
freq 2
freq 3
fpushn
bconsume
# not re-armed yet: req_event is still 1, so no notify
freq 4
fpushn
bconsume
bfinal
# armed at req_cons + 1 = 5: a push of 5..7 crosses it
freq 5
freq 6
freq 7
fpushn
bconsume
# the backend asks to be woken only after 3 more requests (batching): req_event = 10
poke req_event 10
freq 8
fpushn
freq 9
fpushn
freq 10
fpushn
freq 11
fpushn
bconsume
# responses: front batches by moving rsp_event ahead
bresp 1
bresp 2
bpushn
poke rsp_event 6
bresp 3
bresp 4
bresp 5
bpushn
bresp 6
bpushn
bresp 7
bpushn
fconsume
ffinal
bresp 8
bpushn
sindices
dump
