def test_the_world_builds_with_every_persona(world):
    assert world.client("member").get(f"/api/v1/groups/{world.group_a.pk}/").status_code == 200
    assert world.client("outsider").get(f"/api/v1/groups/{world.group_a.pk}/").status_code == 404
    assert world.client("deactivated").get("/api/v1/groups/").status_code == 401
