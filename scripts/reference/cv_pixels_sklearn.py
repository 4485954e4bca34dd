# Checks `vqtex cv`'s pixels decisions against scikit-learn on the folds cv wrote:
#   python scripts/reference/cv_pixels_sklearn.py DATA_DIR CV_OUT_DIR
# (numpy, scikit-learn, pillow). Documentation: CI never runs it.
import sys
import csv, numpy as np
from PIL import Image
from sklearn.svm import SVC
from sklearn.preprocessing import StandardScaler
from sklearn.metrics import roc_auc_score
root=sys.argv[1]
rows=list(csv.DictReader(open(root+'/labels.csv')))
X={r['file']:np.asarray(Image.open(root+'/'+r['file']),dtype=np.float64).ravel()/255 for r in rows}
lab={r['file']:(1 if r['label'] in('steatosis','1') else 0) for r in rows}
pat={r['file']:r['patient'] for r in rows}
fold={}
for r in csv.DictReader(open(sys.argv[2]+'/folds.csv')): fold[r['patient']]=int(r['fold'])
ours={}
for r in csv.DictReader(open(sys.argv[2]+'/predictions.csv')):
    if r['features']=='pixels': ours[r['file']]=float(r['decision'])
files=list(X)
agree=0; n=0; dec_s=[]; dec_o=[]
for f in sorted(set(fold.values())):
    tr=[x for x in files if fold[pat[x]]!=f]; te=[x for x in files if fold[pat[x]]==f]
    sc=StandardScaler().fit(np.array([X[x] for x in tr]))
    m=SVC(C=1,gamma='scale',class_weight='balanced').fit(sc.transform(np.array([X[x] for x in tr])),[lab[x] for x in tr])
    d=m.decision_function(sc.transform(np.array([X[x] for x in te])))
    for x,v in zip(te,d):
        n+=1; agree+= (v>=0)==(ours[x]>=0); dec_s.append(v); dec_o.append(ours[x])
print(f"{agree}/{n} predictions agree; decision correlation {np.corrcoef(dec_s,dec_o)[0,1]:.6f}; max abs diff {np.max(np.abs(np.array(dec_s)-np.array(dec_o))):.4f}")
