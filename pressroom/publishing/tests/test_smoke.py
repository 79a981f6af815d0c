def test_topic_page_lists_a_published_article(client, make_article):
    article = make_article()
    response = client.get("/topics/peru/")
    assert response.status_code == 200
    assert article.title in response.content.decode()
