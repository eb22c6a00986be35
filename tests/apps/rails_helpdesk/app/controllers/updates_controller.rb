class UpdatesController < ApplicationController
  before_action :authenticate!
  before_action :check_since

  def conversations
    return forbidden unless params[:userId].to_s == current_user.id.to_s

    list = Conversation.where(initiator_id: current_user.id).or(Conversation.where(assigned_expert_id: current_user.id))
    list = list.where("updated_at > ?", @since) if @since
    render json: list.order(updated_at: :desc).map { |c| c.as_api_json(current_user) }
  end

  def messages
    return forbidden unless params[:userId].to_s == current_user.id.to_s

    ids = Conversation.where(initiator_id: current_user.id).or(Conversation.where(assigned_expert_id: current_user.id)).pluck(:id)
    list = Message.where(conversation_id: ids)
    list = list.where("created_at > ?", @since) if @since
    render json: list.order(:created_at).map(&:as_api_json)
  end

  def expert_queue
    return forbidden unless params[:expertId].to_s == current_user.id.to_s
    return render(json: { error: "Expert profile required" }, status: :forbidden) unless current_user.expert_profile

    render json: [Conversation.queue_json(current_user, @since)]
  end

  private

  def check_since
    @since = since_param
    render json: { error: "Invalid since" }, status: :bad_request if @since == false
  end

  def forbidden
    render json: { error: "Forbidden" }, status: :forbidden
  end
end
