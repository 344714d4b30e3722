# xen-pvscsi.md §1.4 worked example, then out-of-order responses.
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
