/* AVL tree keyed by base address (see rtree.h). */
#include "rtree.h"

#include <stddef.h>

static int height(const rtree_node *n)
{
    return n ? n->height : 0;
}

static void fix(rtree_node *n)
{
    int l = height(n->left), r = height(n->right);
    n->height = (l > r ? l : r) + 1;
}

static rtree_node *rotate_right(rtree_node *n)
{
    rtree_node *l = n->left;
    n->left = l->right;
    l->right = n;
    fix(n);
    fix(l);
    return l;
}

static rtree_node *rotate_left(rtree_node *n)
{
    rtree_node *r = n->right;
    n->right = r->left;
    r->left = n;
    fix(n);
    fix(r);
    return r;
}

static rtree_node *balance(rtree_node *n)
{
    int bf;
    fix(n);
    bf = height(n->left) - height(n->right);
    if (bf > 1) {
        if (height(n->left->left) < height(n->left->right))
            n->left = rotate_left(n->left);
        return rotate_right(n);
    }
    if (bf < -1) {
        if (height(n->right->right) < height(n->right->left))
            n->right = rotate_right(n->right);
        return rotate_left(n);
    }
    return n;
}

rtree_node *rtree_insert(rtree_node *n, rtree_node *item)
{
    if (!n) {
        item->left = item->right = NULL;
        item->height = 1;
        return item;
    }
    if (item->key < n->key)
        n->left = rtree_insert(n->left, item);
    else
        n->right = rtree_insert(n->right, item);
    return balance(n);
}

static rtree_node *remove_min(rtree_node *n, rtree_node **min)
{
    if (!n->left) {
        *min = n;
        return n->right;
    }
    n->left = remove_min(n->left, min);
    return balance(n);
}

rtree_node *rtree_remove(rtree_node *n, uintptr_t key)
{
    if (!n)
        return NULL;
    if (key < n->key) {
        n->left = rtree_remove(n->left, key);
    } else if (key > n->key) {
        n->right = rtree_remove(n->right, key);
    } else {
        rtree_node *min;
        if (!n->right)
            return n->left;
        n->right = remove_min(n->right, &min);
        min->left = n->left;
        min->right = n->right;
        return balance(min);
    }
    return balance(n);
}

rtree_node *rtree_floor(rtree_node *n, uintptr_t key)
{
    rtree_node *best = NULL;
    while (n) {
        if (n->key <= key) {
            best = n;
            n = n->right;
        } else {
            n = n->left;
        }
    }
    return best;
}

rtree_node *rtree_above(rtree_node *n, uintptr_t key)
{
    rtree_node *best = NULL;
    while (n) {
        if (n->key > key) {
            best = n;
            n = n->left;
        } else {
            n = n->right;
        }
    }
    return best;
}
