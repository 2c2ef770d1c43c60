# -*- coding: utf-8 -*-
"""Which worker images and archives the image role prunes (plugins/module_utils/_image_prune.py, filters
image_prune_plan / image_prune_archives)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.sfops.secretflow.plugins.filter.image_prune import FilterModule
from ansible_collections.sfops.secretflow.plugins.module_utils._image_prune import (
    archive_tag, prunable_archives, prune_plan)

NAME = 'sfops/secretflow-worker'


def prunable_references(images, containers, image_name, keep_tags):
    return prune_plan(images, containers, image_name, keep_tags)['references']


def kept_tags(images, containers, image_name, keep_tags):
    return prune_plan(images, containers, image_name, keep_tags)['kept_tags']


def image(image_id, *tags):
    return {'Id': image_id, 'RepoTags': ['%s:%s' % (NAME, t) if ':' not in t else t for t in tags]}


def test_keeps_the_deployed_tag_and_what_containers_use_and_removes_the_rest():
    images = [image('sha256:a', 'old'), image('sha256:b', 'prev'), image('sha256:c', 'new'), image('sha256:d', 'stale')]
    containers = [{'Image': NAME + ':new'}, {'Image': NAME + ':prev'}]   # sf-node, sf-node-previous (stopped)
    assert prunable_references(images, containers, NAME, ['new']) == [NAME + ':old', NAME + ':stale']


def test_the_deployed_tag_is_kept_even_before_a_container_uses_it():
    images = [image('sha256:a', 'old'), image('sha256:c', 'new')]
    assert prunable_references(images, [{'Image': NAME + ':old'}], NAME, ['new']) == []


def test_a_second_tag_of_an_image_in_use_is_only_untagged():
    images = [image('sha256:a', 'new', 'test-copy')]
    assert prunable_references(images, [{'Image': NAME + ':new'}], NAME, ['new']) == [NAME + ':test-copy']


def test_an_image_a_container_names_by_id_is_kept_whole():
    images = [image('sha256:a', 'old', 'older'), image('sha256:c', 'new')]
    assert prunable_references(images, [{'Image': 'sha256:a'}], NAME, ['new']) == []


def test_other_repositories_are_never_touched():
    images = [{'Id': 'sha256:x', 'RepoTags': ['sfops/secretflow-worker-gpu:1', 'redis:7', 'sfops/server:latest']},
              image('sha256:c', 'new')]
    assert prunable_references(images, [], NAME, ['new']) == []


def test_a_container_without_a_tag_uses_latest():
    images = [image('sha256:a', 'latest'), image('sha256:c', 'new')]
    assert prunable_references(images, [{'Image': NAME}], NAME, ['new']) == []
    assert prunable_references(images, [], NAME, ['new']) == [NAME + ':latest']


def test_untagged_images_and_missing_fields_are_ignored():
    images = [{'Id': 'sha256:a', 'RepoTags': None}, {'Id': 'sha256:b'}, image('sha256:c', 'new')]
    assert prunable_references(images, [{}, None, {'Image': None}], NAME, ['new']) == []


@pytest.mark.parametrize('filename, tag', [
    ('sfops_secretflow-worker-455b033bd083.tar', '455b033bd083'),
    ('sfops_secretflow-worker-455b033bd083.tar.sha256', '455b033bd083'),
    ('sfops_secretflow-worker-455b033bd083.tar.zst', '455b033bd083'),
    ('sfops_secretflow-worker-455b033bd083.tar.zst.sha256', '455b033bd083'),
    ('sfops_secretflow-worker-e2e-b-005839.delta-8b99510974db.tar.zst', 'e2e-b-005839'),
    ('sfops_secretflow-worker-1.2.0.tar', '1.2.0'),
    ('sfops_secretflow-worker-455b033bd083', None),          # a build context directory, not an archive
    ('sfops_secretflow-worker-455b.tar.part', None),
    ('other_image-455b.tar', None),
    ('notes.txt', None),
])
def test_archive_names(filename, tag):
    assert archive_tag(filename, NAME) == tag


def test_archives_of_other_tags_go_every_other_file_stays():
    files = ['sfops_secretflow-worker-new.tar', 'sfops_secretflow-worker-new.tar.zst', 'sfops_secretflow-worker-old.tar',
             'sfops_secretflow-worker-old.tar.sha256', 'sfops_secretflow-worker-x.delta-0a.tar.zst',
             'sfops_secretflow-worker-prev.tar.zst', 'README', 'ctx-old']
    assert prunable_archives(files, NAME, ['new', 'prev']) == [
        'sfops_secretflow-worker-old.tar', 'sfops_secretflow-worker-old.tar.sha256',
        'sfops_secretflow-worker-x.delta-0a.tar.zst']


def test_the_filters_wrap_the_functions_and_name_themselves_in_errors():
    filters = FilterModule().filters()
    assert filters['image_prune_plan']([image('sha256:a', 'old')], [], NAME, ['new']) == {
        'references': [NAME + ':old'], 'kept_tags': ['new']}
    assert filters['image_prune_archives'](['sfops_secretflow-worker-old.tar'], NAME) == ['sfops_secretflow-worker-old.tar']
    with pytest.raises(AnsibleFilterError, match='image_prune_plan: image_name is empty'):
        filters['image_prune_plan']([], [], '', [])


def test_kept_tags_are_what_remains_plus_the_deployed_one():
    images = [image('sha256:a', 'old'), image('sha256:b', 'prev'), image('sha256:c', 'stale', 'x')]
    containers = [{'Image': NAME + ':prev'}, {'Image': 'sha256:c'}]
    assert kept_tags(images, containers, NAME, ['new']) == ['new', 'prev', 'stale', 'x']


def test_only_tags_limits_the_archives_to_those_tags():
    files = ['sfops_secretflow-worker-a.tar', 'sfops_secretflow-worker-b.tar', 'sfops_secretflow-worker-c.tar']
    assert prunable_archives(files, NAME, ['c'], only_tags=['b', 'c']) == ['sfops_secretflow-worker-b.tar']
    assert prunable_archives(files, NAME, [], only_tags=[]) == []
