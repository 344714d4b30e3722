# A hostile frontend moves req_prod past the ring, or backwards; a hostile backend overstates
# rsp_prod. The overflow checks see it and nothing is consumed.
start 4294967280
freq 1
freq 2
fpush
bconsume
bindices
poke req_prod 3
bstate
bcheck 3
bconsume
bindices
poke req_prod 4294967200
bstate
bconsume
poke req_prod 4294967282
bstate
bresp 1
bresp 2
bpush
fcheck 4294967282
fcheck 2
fcheck 3
poke rsp_prod 3
fconsume
findices
poke rsp_prod 4294967282
fconsume
findices
sindices
dump
