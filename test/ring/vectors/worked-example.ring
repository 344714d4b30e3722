# The push/notify example of Xen's `xen/include/public/io/ring.h` (RING_PUSH_REQUESTS_AND_CHECK_NOTIFY, req_event), then out-of-order responses.
init
sindices
freq 1
fpushn
freq 2
fpushn
bconsume
bfinal
sindices
freq 3
fpushn
bconsume
bresp 3
bresp 1
bpushn
bresp 2
bpushn
fconsume
ffinal
sindices
findices
bindices
fstate
bstate
dump
