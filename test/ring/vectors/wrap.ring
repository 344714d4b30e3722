# Indices start six below 2^32 so every batch crosses the wrap.
start 4294967290
sindices
freq 10
freq 11
freq 12
fpushn
bconsume
freq 13
freq 14
freq 15
freq 16
freq 17
fpushn
fstate
bconsume
bresp 11
bresp 10
bresp 12
bresp 14
bpushn
fconsume
bresp 13
bresp 17
bresp 16
bresp 15
bpushn
ffinal
fconsume
ffinal
bfinal
freq 18
fpushn
bconsume
bresp 18
bpushn
fconsume
sindices
findices
bindices
dump
