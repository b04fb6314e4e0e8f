import sys, time, numpy as np, numba
from mlpbench.mlp import impl_numba_loops as L, impl_numpy as NP
from mlpbench.mlp.params import init_params
dt=np.dtype(sys.argv[1])
out=[]
for n in map(int, sys.argv[2].split(",")):
    p=init_params(784,256,10,dtype=dt); rng=np.random.default_rng(0)
    X=rng.standard_normal((n,784)).astype(dt); y=rng.integers(0,10,n)
    f=lambda: L.loss_and_grad(p,X,y,1e-4,1e-4)
    g=lambda: NP.loss_and_grad(p,X,y,1e-4,1e-4)
    f(); g()
    A=[];B=[];C=[]
    for _ in range(40):
        s=time.perf_counter(); g(); A.append(time.perf_counter()-s)   # numpy (after loops or itself)
        s=time.perf_counter(); f(); B.append(time.perf_counter()-s)   # loops right after numpy
        time.sleep(0.3)
        s=time.perf_counter(); f(); C.append(time.perf_counter()-s)   # loops after 0.3 s idle
    out.append(f"n={n}: numpy {np.median(A)*1e6:.0f}, loops after numpy {np.median(B)*1e6:.0f}, loops after idle {np.median(C)*1e6:.0f}")
print(" | ".join(out))
