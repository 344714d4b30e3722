# A full ring across the wrap: 16 outstanding, RING_FULL, the consumer's stop condition.
start 4294967293
freq 0
freq 1
freq 2
freq 3
freq 4
freq 5
freq 6
freq 7
freq 8
freq 9
freq 10
freq 11
freq 12
freq 13
freq 14
freq 15
fstate
fpushn
bstate
bconsume
bstate
bfinal
bindices
bcheck 4294967293
bcheck 13
bcheck 14
bresp 15
bresp 0
bresp 7
bresp 3
bpushn
fconsume
fstate
freq 16
freq 17
freq 18
freq 19
fstate
fpushn
bconsume
bresp 1
bresp 2
bresp 4
bresp 5
bresp 6
bresp 8
bresp 9
bresp 10
bresp 11
bresp 12
bresp 13
bresp 14
bresp 16
bresp 17
bresp 18
bresp 19
bpushn
fconsume
fstate
ffinal
bfinal
sindices
dump
