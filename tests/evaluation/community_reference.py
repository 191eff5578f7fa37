"""The community per-query algorithm (AGW ``eval_metrics.py``; docs/protocols.md, "Evaluation
metrics"), written out as the brute-force reference: stable argsort (so ties follow gallery index, as ours do) and the CMC rows
padded with their last value to ``max_rank`` (so tiny galleries do not make ragged arrays)."""
import numpy as np


def _pad(row, n):
    row = np.asarray(row)[:n]
    if len(row) < n:
        row = np.concatenate([row, np.full(n - len(row), row[-1] if len(row) else 0)])
    return row


def reference_eval(distmat, q_pids, g_pids, q_camids=None, g_camids=None, max_rank=20, sysu=True):
    """Returns (author_cmc, standard_cmc, mAP, mINP, num_valid)."""
    distmat = np.asarray(distmat)
    num_q, _ = distmat.shape
    indices = np.argsort(distmat, axis=1, kind="stable")
    pred_label = g_pids[indices]
    matches = (g_pids[indices] == q_pids[:, np.newaxis]).astype(np.int32)
    new_all_cmc, all_cmc, all_ap, all_inp = [], [], [], []
    num_valid_q = 0.0
    for q_idx in range(num_q):
        q_pid = q_pids[q_idx]
        order = indices[q_idx]
        if sysu:
            remove = (q_camids[q_idx] == 3) & (g_camids[order] == 2)
        else:
            remove = np.zeros(len(order), bool)
        keep = np.invert(remove)
        new_cmc = pred_label[q_idx][keep]
        new_index = np.unique(new_cmc, return_index=True)[1]
        new_cmc = [new_cmc[index] for index in sorted(new_index)]
        new_match = (np.asarray(new_cmc) == q_pid).astype(np.int32)
        new_cmc = new_match.cumsum()
        new_all_cmc.append(_pad(new_cmc, max_rank))
        orig_cmc = matches[q_idx][keep]
        if not np.any(orig_cmc):
            continue
        cmc = orig_cmc.cumsum()
        pos_idx = np.where(orig_cmc == 1)
        pos_max_idx = np.max(pos_idx)
        all_inp.append(cmc[pos_max_idx] / (pos_max_idx + 1.0))
        cmc[cmc > 1] = 1
        all_cmc.append(_pad(cmc, max_rank))
        num_valid_q += 1.0
        num_rel = orig_cmc.sum()
        tmp_cmc = orig_cmc.cumsum()
        tmp_cmc = [x / (i + 1.0) for i, x in enumerate(tmp_cmc)]
        tmp_cmc = np.asarray(tmp_cmc) * orig_cmc
        all_ap.append(tmp_cmc.sum() / num_rel)
    assert num_valid_q > 0, "Error: all query identities do not appear in gallery"
    all_cmc = np.asarray(all_cmc).astype(np.float32).sum(0) / num_valid_q
    new_all_cmc = np.asarray(new_all_cmc).astype(np.float32).sum(0) / num_valid_q
    return new_all_cmc, all_cmc, float(np.mean(all_ap)), float(np.mean(all_inp)), int(num_valid_q)
