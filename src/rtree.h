/* Internal: an AVL tree of address ranges keyed by base address, shared by
 * the Linux emulation's reservation table and checked mode's page-state
 * tracker.  Embed rtree_node as the first member of the record. */
#ifndef MEMWIN_RTREE_H
#define MEMWIN_RTREE_H

#include <stdint.h>

typedef struct rtree_node {
    uintptr_t key; /* base address */
    struct rtree_node *left, *right;
    int height;
} rtree_node;

/* Each returns the new root; the caller holds whatever lock guards root. */
rtree_node *rtree_insert(rtree_node *root, rtree_node *item);
rtree_node *rtree_remove(rtree_node *root, uintptr_t key);
/* The node with the greatest key <= key, or NULL. */
rtree_node *rtree_floor(rtree_node *root, uintptr_t key);
/* The node with the smallest key > key, or NULL. */
rtree_node *rtree_above(rtree_node *root, uintptr_t key);

#endif
