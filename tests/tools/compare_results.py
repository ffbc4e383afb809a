#!/usr/bin/env python3
"""Compares the results.json trees of two run_examples.sh output folders.

Same key set (every path present in both), numbers equal to 1e-12 relative,
strings and booleans identical; values that differ from run to run are
skipped (study.id, study.finished_at, fit_seconds, coordinator_seconds,
provenance.audit_log_heads). Prints the differences per study and exits 1 if
there are any.

  python3 tests/tools/compare_results.py BEFORE_DIR AFTER_DIR
"""
import json, math, os, sys
VOLATILE={'finished_at','id','fit_seconds','coordinator_seconds'}
def walk(a,b,p,errs):
    last=p.split('.')[-1]
    if p.startswith('.provenance.audit_log_heads'): return
    if isinstance(a,dict) and isinstance(b,dict):
        for k in set(a)|set(b):
            if k not in a: errs.append(f'{p}.{k}: only new'); continue
            if k not in b: errs.append(f'{p}.{k}: only old'); continue
            walk(a[k],b[k],p+'.'+k,errs)
    elif isinstance(a,list) and isinstance(b,list):
        if len(a)!=len(b): errs.append(f'{p}: len {len(a)} vs {len(b)}'); return
        for i,(x,y) in enumerate(zip(a,b)): walk(x,y,f'{p}[{i}]',errs)
    elif isinstance(a,bool) or isinstance(b,bool):
        if a!=b: errs.append(f'{p}: {a} vs {b}')
    elif isinstance(a,(int,float)) and isinstance(b,(int,float)):
        if last in VOLATILE: return
        if a!=b and abs(a-b)>1e-12*max(abs(a),abs(b)): errs.append(f'{p}: {a!r} vs {b!r}')
    else:
        if last in VOLATILE and p.startswith('.study'): return
        if a!=b or type(a)!=type(b): errs.append(f'{p}: {a!r} vs {b!r}')
tot=0
for name in sorted(os.listdir(sys.argv[1])):
    fa=os.path.join(sys.argv[1],name,'results.json'); fb=os.path.join(sys.argv[2],name,'results.json')
    if not os.path.exists(fa): continue
    if not os.path.exists(fb): print(name,'MISSING new'); tot+=1; continue
    errs=[]; walk(json.load(open(fa)),json.load(open(fb)),'',errs)
    print(f'{name}: {len(errs)} differences'); tot+=len(errs)
    for e in errs[:15]: print('   ',e)
print("TOTAL", tot)
sys.exit(1 if tot else 0)
